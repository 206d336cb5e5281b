"""Settings › Lost reasons: the picklist offered when a deal is lost (administrators only)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from comptoir.core.errors import Forbidden
from comptoir.crm import lost_reason_services as services
from comptoir.crm.models import LostReason, Opportunity, Stage
from comptoir.crm.services import lost_reason_choices, opportunity_update
from comptoir.testing import factories as f

HX = {"HTTP_HX_REQUEST": "true"}
URL = "/settings/lost-reasons/"


@pytest.fixture
def reasons(db: None) -> list[LostReason]:
    return [LostReason.objects.create(name=name, order=(i + 1) * 10)
            for i, name in enumerate(("Price", "Competitor", "No budget"))]


@pytest.fixture
def admin_client(admin: Any, client_for: Any) -> Any:
    return client_for(admin)


def _url(name: str, reason: LostReason) -> str:
    return reverse(f"web:settings_lost_reason_{name}", args=[reason.pk])


def test_the_route(db: None) -> None:
    assert reverse("web:settings_lost_reasons") == URL


@pytest.mark.parametrize("persona", ["owner", "manager", "data_manager", "marketing",
                                     "service_user"])
def test_non_admins_get_a_404_and_change_nothing(request: pytest.FixtureRequest,
                                                 client_for: Any, persona: str,
                                                 reasons: list[LostReason]) -> None:
    user = request.getfixturevalue(persona)
    client = client_for(user)
    price = reasons[0]
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"name": "Sneaky"}).status_code == 404
    assert client.post(_url("rename", price), {"name": "Cost"}).status_code == 404
    assert client.post(_url("move", price), {"direction": "down"}).status_code == 404
    assert client.post(_url("toggle", price)).status_code == 404
    assert lost_reason_choices() == ["Price", "Competitor", "No budget"]
    with pytest.raises(Forbidden):
        services.lost_reason_create(user=user, name="Sneaky")


def test_the_page_lists_them_in_order(admin_client: Any, reasons: list[LostReason]) -> None:
    html = admin_client.get(URL).content.decode()
    assert html.index('value="Price"') < html.index('value="Competitor"') \
        < html.index('value="No budget"')
    assert 'class="settings-nav"' in html
    assert ">Lost reasons</a>" in html  # in the settings nav


def test_add_then_refuse_a_twin_and_an_empty_name(admin_client: Any,
                                                   reasons: list[LostReason]) -> None:
    response = admin_client.post(URL, {"name": "  Delivery   time "})
    assert response.status_code == 302
    assert lost_reason_choices()[-1] == "Delivery time"
    html = admin_client.post(URL, {"name": "price"}, **HX).content.decode()
    assert 'id="reasons"' in html
    assert "<html" not in html
    assert "This reason exists already." in html
    assert 'aria-invalid="true"' in html
    html = admin_client.post(URL, {"name": " "}).content.decode()
    assert "This field is required." in html
    assert LostReason.objects.count() == 4


def test_a_deactivated_twin_is_pointed_out(admin: Any, reasons: list[LostReason]) -> None:
    services.lost_reason_set_active(user=admin, reason=reasons[0], active=False)
    with pytest.raises(Exception, match="reactivate it instead"):
        services.lost_reason_create(user=admin, name="PRICE")


def test_rename_changes_the_offer_not_the_lost_deals(admin: Any, admin_client: Any,
                                                     owner: Any,
                                                     reasons: list[LostReason]) -> None:
    f.default_pipeline()
    lost = Stage.objects.get(pipeline__is_default=True, name="Lost")
    deal = f.opportunity(by=owner, account=f.account(by=owner, legal_name="Atelier SARL"),
                         name="Lost deal")
    opportunity_update(opportunity=deal, user=owner,
                       data={"stage_id": lost.pk, "lost_reason": "price"})
    html = admin_client.post(_url("rename", reasons[0]), {"name": "Price too high"},
                             **HX).content.decode()
    assert 'value="Price too high"' in html
    assert lost_reason_choices()[0] == "Price too high"
    assert Opportunity.objects.get(pk=deal.pk).lost_reason == "Price"
    html = admin_client.post(_url("rename", reasons[1]), {"name": "Price too high"},
                             **HX).content.decode()
    assert f'id="reason-{reasons[1].pk}-error"' in html
    assert LostReason.objects.get(pk=reasons[1].pk).name == "Competitor"


def test_move_up_and_down_keeps_the_focus(admin_client: Any,
                                          reasons: list[LostReason]) -> None:
    html = admin_client.post(_url("move", reasons[2]), {"direction": "up"},
                             **HX).content.decode()
    assert lost_reason_choices() == ["Price", "No budget", "Competitor"]
    assert html.count("autofocus") == 1
    response = admin_client.post(_url("move", reasons[0]), {"direction": "down"})
    assert response.status_code == 302
    assert "#reasons" in response["Location"]
    assert lost_reason_choices() == ["No budget", "Price", "Competitor"]
    admin_client.post(_url("move", reasons[1]), {"direction": "down"})  # already last
    assert lost_reason_choices() == ["No budget", "Price", "Competitor"]


def test_deactivate_and_reactivate(admin_client: Any, owner: Any,
                                   reasons: list[LostReason]) -> None:
    response = admin_client.post(_url("toggle", reasons[0]))
    assert response.status_code == 302
    assert lost_reason_choices() == ["Competitor", "No budget"]
    html = admin_client.get(URL).content.decode()
    assert "no longer offered" in html
    assert "Deactivated reasons" in html
    assert html.index('value="No budget"') < html.index('value="Price"')
    # a deactivated reason cannot be moved; reactivated, it comes last
    assert admin_client.post(_url("move", reasons[0]), {"direction": "up"}).status_code == 404
    admin_client.post(_url("toggle", reasons[0]), **HX)
    assert lost_reason_choices() == ["Competitor", "No budget", "Price"]


def test_with_no_active_reason_the_reason_is_free_text(admin: Any, owner: Any,
                                                       admin_client: Any,
                                                       reasons: list[LostReason]) -> None:
    for reason in reasons:
        services.lost_reason_set_active(user=admin, reason=reason, active=False)
    assert lost_reason_choices() == []
    assert "No reason offered" in admin_client.get(URL).content.decode()
    f.default_pipeline()
    lost = Stage.objects.get(pipeline__is_default=True, name="Lost")
    deal = f.opportunity(by=owner, account=f.account(by=owner, legal_name="Atelier SARL"),
                         name="Lost deal")
    opportunity_update(opportunity=deal, user=owner,
                       data={"stage_id": lost.pk, "lost_reason": "Went quiet"})
    assert Opportunity.objects.get(pk=deal.pk).lost_reason == "Went quiet"


def test_settings_index_has_the_card(admin_client: Any, reasons: list[LostReason]) -> None:
    html = admin_client.get("/settings/").content.decode()
    assert f'href="{URL}"' in html
    assert "active reasons" in html


def test_french_page(admin: Any, client_for: Any, reasons: list[LostReason]) -> None:
    client = client_for(admin, language="fr")
    html = client.get(URL).content.decode()
    assert "<h1>Motifs de perte</h1>" in html
    assert "Ajouter le motif" in html
    html = client.post(URL, {"name": "Price"}).content.decode()
    assert "Ce motif existe déjà." in html
