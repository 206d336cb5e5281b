"""Engine tests: plain Python, no database. The CRM field lists are given here, as the Django
side gives them in production (the engine knows no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

TARGETS: dict[str, set[str]] = {
    "account": {
        "legal_name", "trade_name", "status", "siren", "siret", "vat_number", "naf_code",
        "billing_street", "billing_postcode", "billing_city", "billing_country",
        "shipping_street", "shipping_postcode", "shipping_city", "shipping_country", "phone",
        "email", "website", "headcount_band", "payment_terms", "credit_limit",
        "parent_external_id", "active", "mobile", "fax"},
    "account.addresses": {"kind", "name", "street", "postcode", "city", "country"},
    "account.identifiers": {"type", "value"},
    "account.channels": {"kind", "value", "name"},
    "contact": {
        "account_external_id", "civility", "first_name", "last_name", "job_title", "email",
        "email_secondary", "phone", "mobile", "marketing_consent", "consent_date",
        "consent_source", "mailing_street", "mailing_postcode", "mailing_city",
        "mailing_country"},
    "product": {"code", "name", "unit", "active", "tax_rate"},
    "pricelist": {"name", "currency", "valid_from", "valid_to", "active"},
    "pricelistitem": {"price_list_external_id", "product_external_id", "unit_price",
                      "min_quantity", "valid_from", "valid_to"},
    "salesdocument": {
        "kind", "number", "account_external_id", "contact_external_id",
        "price_list_external_id", "status", "issue_date", "valid_until", "due_date",
        "start_date", "end_date", "currency", "total_excl_tax", "total_tax", "total_incl_tax",
        "amount_due", "notes"},
    "salesdocument.lines": {"position", "product_external_id", "description", "quantity",
                            "unit_price", "discount_percent", "tax_rate"},
    "lead": {
        "company_name", "siren", "civility", "first_name", "last_name", "job_title", "email",
        "phone", "website", "street", "postcode", "city", "country", "source", "status",
        "score", "description", "owner_username"},
    "opportunity": {
        "name", "account_external_id", "contact_external_id", "pipeline", "stage", "amount",
        "currency", "probability", "expected_close_date", "lost_reason", "description",
        "owner_username"},
    "activity": {
        "kind", "subject", "body", "due_at", "start_at", "end_at", "done",
        "account_external_id", "contact_external_id", "opportunity_external_id",
        "case_external_id", "owner_username"},
    "case": {
        "number", "account_external_id", "contact_external_id", "kind", "subject",
        "description", "status", "priority", "owner_username"},
}


@pytest.fixture
def targets() -> dict[str, set[str]]:
    return TARGETS


@pytest.fixture
def data_dir() -> Path:
    return DATA
