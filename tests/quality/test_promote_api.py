"""``POST /api/v1/accounts/{id}/promote`` applies the whole ERP profile, as an approval does."""

from __future__ import annotations

from typing import Any

from comptoir.core.models import AuditEntry, OutboxEvent
from comptoir.crm.models import Account
from comptoir.integration.models import Connection
from comptoir.quality import profiles
from comptoir.quality.identifiers import siret_with_check_digit
from comptoir.quality.promotion import gap_fields
from comptoir.testing import factories as f


def _promoted_events(account: Account) -> int:
    return OutboxEvent.objects.filter(topic="account.promoted", object_id=account.pk).count()


def test_every_gap_of_the_erp_profile_is_refused_by_field(api: Any, owner: Any, outsider: Any,
                                                          data_manager: Any) -> None:
    prospect = f.account(by=owner, legal_name="Menuiserie Rivière SARL",
                         billing_postcode="69003", billing_city="Lyon")
    api(outsider).post(f"accounts/{prospect.pk}/promote").error(404)
    api(owner).post(f"accounts/{prospect.pk}/promote").error(403)  # a rep: no gaps told

    err = api(data_manager).post(f"accounts/{prospect.pk}/promote").error(422)
    expected = gap_fields(profiles.gaps("account", prospect, "erp"))
    assert err["fields"] == expected  # the review's messages, field by field
    assert {"billing_street", "contacts", "siret", "naf_code", "payment_terms"} <= set(expected)
    prospect.refresh_from_db()
    assert prospect.status == "prospect"
    assert _promoted_events(prospect) == 0


def test_a_probable_duplicate_is_a_gap_too(api: Any, owner: Any, data_manager: Any) -> None:
    common = {"legal_name": "Dupont Conseil SARL", "email": "contact@dupont-conseil.fr",
              "phone": "04 72 00 00 01", "billing_street": "12 rue de la République",
              "billing_postcode": "69002", "billing_city": "Lyon", "siren": f.siren(7301)}
    f.account(by=data_manager, status="customer", **common)
    prospect = f.account(by=owner, siret=siret_with_check_digit(common["siren"], "0002"),
                         naf_code="70.22Z", payment_terms="net_30", **common)
    f.contact(by=owner, account=prospect, last_name="Dupont", email="j@dupont-conseil.fr")

    err = api(data_manager).post(f"accounts/{prospect.pk}/promote").error(422)
    [gap] = profiles.gaps("account", prospect, "erp")
    assert gap.requirement == "no_duplicate"
    assert err["fields"] == {"__all__": [gap.message]}


def test_a_complete_account_is_promoted(api: Any, owner: Any, data_manager: Any) -> None:
    siren = f.siren(7302)
    prospect = f.account(by=owner, legal_name="Atelier Complet SAS", siren=siren,
                         siret=siret_with_check_digit(siren, "0001"), naf_code="16.23Z",
                         billing_street="4 rue des Artisans", billing_postcode="69003",
                         billing_city="Lyon", payment_terms="net_30")
    f.contact(by=owner, account=prospect, last_name="Martin", email="m@complet.example")
    assert profiles.gaps("account", prospect, "erp") == []
    # no connection sends customers to the ERP yet: promoting would create none there
    api(data_manager).post(f"accounts/{prospect.pk}/promote").error(409)
    Connection.objects.create(name="erp-out", connector="files", mapping='system = "erp"\n',
                              direction=Connection.Direction.OUTBOUND)

    body = api(data_manager).post(f"accounts/{prospect.pk}/promote").expect(200)
    assert body == {"id": prospect.pk, "status": "customer", "promoted": True}
    prospect.refresh_from_db()
    assert prospect.status == "customer"
    assert _promoted_events(prospect) == 1
    assert AuditEntry.objects.filter(object_type="account", object_id=prospect.pk,
                                     action="promote", user=data_manager,
                                     source="api").exists()
