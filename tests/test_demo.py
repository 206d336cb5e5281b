"""``comptoir demo``: the data set is valid French B2B data, consistent with the rules it claims.

The generator writes rows in bulk, past the services: these tests check that what it writes is
what the services would have accepted (identifiers, phones, territory assignment, totals) and
that the database is left usable (sequences, visibility, logins).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from io import StringIO

import phonenumbers
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from email_validator import validate_email
from stdnum.eu import vat
from stdnum.fr import siren, siret

from comptoir.access.models import Role, User
from comptoir.access.policy import restrict
from comptoir.access.territories import active_territories, match_territory
from comptoir.activities.models import Activity
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.demo import DEMO_PASSWORD, DEMO_USERS
from comptoir.demo.quality import DUPLICATE_SHARE
from comptoir.sales.models import SalesDocument, SalesDocumentLine
from comptoir.service.models import Case

pytestmark = pytest.mark.django_db(transaction=True)


def _demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo() -> str:
    # A chunk smaller than the set exercises the forked generator and the chunked writes.
    return _demo("--accounts", "120", "--chunk-size", "50", "--seed", "7")


def test_counts_reported_match_the_database(demo: str) -> None:
    assert Account.objects.count() == 120
    assert Contact.objects.count() >= 120
    for label, model in (("accounts", Account), ("contacts", Contact),
                         ("opportunities", Opportunity), ("sales documents", SalesDocument),
                         ("cases", Case), ("activities", Activity), ("leads", Lead)):
        assert f"{label:<22}{model.objects.count():>12,}" in demo, label


def test_identifiers_addresses_and_phones_are_valid() -> None:
    _demo("--accounts", "60")
    # the accounts the demo turns into duplicates of others lost their identifiers
    seeded = Account.objects.filter(siren="").count()
    assert seeded == int(60 * DUPLICATE_SHARE)
    for acc in Account.objects.exclude(siren=""):
        assert siren.is_valid(acc.siren), acc.siren
        assert siret.is_valid(acc.siret), acc.siret
        assert acc.siret.startswith(acc.siren)
        assert vat.is_valid(acc.vat_number)
        assert acc.vat_number.endswith(acc.siren)
        assert len(acc.billing_postcode) == 5
        assert acc.billing_postcode.isdigit()
        assert acc.billing_country == "FR"
        if acc.phone:  # a few companies have none, as in real files
            number = phonenumbers.parse(acc.phone, "FR")
            assert phonenumbers.is_valid_number(number), acc.phone
    assert Account.objects.exclude(phone="").count() > 30
    assert len(set(Account.objects.exclude(siren="").values_list("siren", flat=True))) == \
        60 - seeded
    for contact in Contact.objects.exclude(email=""):
        validate_email(contact.email, check_deliverability=False)  # raises when invalid


def test_data_quality_pages_have_something_to_show(demo: str) -> None:
    """Seeded duplicates are in the review queue; prospects with an order await promotion."""
    from comptoir.quality.models import DuplicatePair, PromotionRequest

    seeded = Account.objects.filter(siren="")
    assert seeded.count() == int(120 * DUPLICATE_SHARE)
    queued = set(DuplicatePair.objects.filter(object_type="account").values_list(
        "left_id", "right_id"))
    for dup in seeded:
        assert any(dup.pk in pair for pair in queued), dup.legal_name
    requests = PromotionRequest.objects.select_related("account", "document")
    assert requests.exists()
    for request in requests:
        assert request.account.status != "customer"
        assert request.document.kind == "order" or request.document.status == "accepted"
    assert "promotion requests" in demo


def test_territories_are_those_the_rules_give() -> None:
    _demo("--accounts", "80")
    territories = active_territories()
    assert territories, "the demo organisation defines territories"
    for acc in Account.objects.all():
        row = {f.attname: getattr(acc, f.attname) for f in Account._meta.concrete_fields}
        expected = match_territory(row, territories)
        assert acc.territory_id == (expected.pk if expected else None), acc.legal_name


def test_sales_documents_add_up(demo: str) -> None:
    kinds = Counter(SalesDocument.objects.values_list("kind", flat=True))
    assert {"quote", "order", "invoice"} <= set(kinds)
    for doc in SalesDocument.objects.all()[:200]:
        lines = SalesDocumentLine.objects.filter(document=doc)
        assert lines.exists()
        total = lines.aggregate(t=Sum("total_excl_tax"))["t"]
        assert doc.total_excl_tax == total, doc.number
        assert doc.total_incl_tax == doc.total_excl_tax + doc.total_tax
        assert Decimal(0) <= doc.amount_due <= doc.total_incl_tax
    assert len(set(SalesDocument.objects.values_list("number", flat=True))) == \
        SalesDocument.objects.count()


def test_pipeline_is_spread_over_stages(demo: str) -> None:
    stages = set(Opportunity.objects.values_list("stage__name", flat=True))
    assert len(stages) >= 4, stages
    assert Opportunity.objects.filter(account__isnull=True).count() == 0


def test_logins_are_printed_and_work(demo: str) -> None:
    for spec in DEMO_USERS:
        assert spec.username in demo
        user = User.objects.get(username=spec.username)
        assert user.check_password(DEMO_PASSWORD)
    assert User.objects.get(username="admin").is_superuser


def test_reps_see_their_share_only(demo: str) -> None:
    total = Account.objects.count()
    seen = []
    for rep in User.objects.filter(role=Role.REP):
        visible = restrict(Account.objects.all(), rep).count()
        assert visible < total, rep.username
        seen.append(visible)
    assert sum(seen) > 0
    director = User.objects.get(username="marc.lefebvre")
    assert restrict(Account.objects.all(), director).count() >= max(seen)


def test_database_stays_writable_after_the_bulk_load(demo: str) -> None:
    """Ids were written explicitly: the sequences must have been moved past them."""
    from comptoir.testing import factories

    admin = User.objects.get(username="admin")
    before = Account.objects.order_by("-pk").values_list("pk", flat=True).first()
    created = factories.account(by=admin, legal_name="Nouvelle SARL")
    assert created.pk > before


def test_if_empty_loads_once_and_same_seed_gives_same_data() -> None:
    _demo("--accounts", "30", "--seed", "3")
    names = list(Account.objects.order_by("pk").values_list("legal_name", "siren"))
    out = _demo("--accounts", "30", "--seed", "3", "--if-empty")
    assert "already exist" in out
    assert Account.objects.count() == 30
    Account.objects.all().delete()
    Lead.objects.all().delete()
    _demo("--accounts", "30", "--seed", "3")
    again = list(Account.objects.order_by("pk").values_list("legal_name", "siren"))
    # Ids move on after the deletion; the content is the same.
    assert [n for n, _ in again] == [n for n, _ in names]


def test_rejects_a_non_positive_size(db: None) -> None:
    with pytest.raises(CommandError):
        _demo("--accounts", "0")
