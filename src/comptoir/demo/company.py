"""The demo's own company (the seller on its quotes and invoices) and its lost-reason picklist.

Fictional, with identifiers that pass the same checks as real ones (SIREN, SIRET and VAT
number of one company, an IBAN with valid French bank and IBAN keys, a BIC of the right shape
for no real bank). Both loaders leave what an administrator already set alone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from comptoir.core.company import company_profile, company_profile_update
from comptoir.crm.models import LostReason

from . import data

DEMO_COMPANY: dict[str, Any] = {
    "legal_name": "Delaunay Équipements Industriels",
    "trade_name": "Delaunay Équipements",
    "legal_form": "SAS",
    "share_capital": Decimal("250000"),
    "street": "14 avenue Tony Garnier",
    "postcode": "69007",
    "city": "Lyon",
    "country": "FR",
    "siren": "842317653",
    "siret": "84231765300017",
    "vat_number": "FR54842317653",
    "rcs": "RCS Lyon",
    "naf_code": "46.69B",
    "phone": "+33478601520",
    "email": "contact@delaunay-equipements.fr",
    "website": "https://www.delaunay-equipements.fr",
    "bank_name": "Banque de démonstration",
    "iban": "FR7612345000010009876543297",
    "bic": "DEMOFRPPLYO",
    "payment_terms": "30 jours fin de mois",
    "late_penalty_rate": None,  # the legal default is printed: ECB rate plus 10 points
    "recovery_indemnity": Decimal("40"),
    "early_payment_discount": "",
    "quote_validity_days": 30,
    "footer": "",
}


def load_demo_company() -> bool:
    """Fill in the company profile unless one is already there; ``True`` if this call did."""
    if company_profile().legal_name:
        return False
    company_profile_update(user=None, data=DEMO_COMPANY)
    return True


def load_demo_lost_reasons() -> int:
    """The lost reasons the demo's lost deals carry, offered in this order; only into an empty
    picklist. Returns how many were added."""
    if LostReason.objects.exists():
        return 0
    LostReason.objects.bulk_create(LostReason(name=name, order=(i + 1) * 10)
                                   for i, name in enumerate(data.LOST_REASONS))
    return len(data.LOST_REASONS)
