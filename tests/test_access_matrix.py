"""The visibility policy, object by object and persona by persona, through the real API.

The tables below restate the rules of ``comptoir.access.policy``'s docstring by hand; they are
deliberately not computed from the policy code. The world (``comptoir.testing.personas``):

* the owner's account lies in territory Rhône, covered by team North (owner + teammate);
  every kind of record hangs off it, owned by the owner; the owner also has a *private*
  account outside any territory (the teammate does not see it, the manager does);
* ``manager`` is two levels above the owner (owner → lead_rep → manager);
* the outsider has the same set of records in territory Provence (team South);
* marketing reads leads, accounts and contacts and changes leads; service reads accounts and
  contacts and reads and changes cases; admin and data manager see and change everything.

Invisible records answer 404 (never 403, which would confirm they exist); a visible record the
persona may not change or delete answers 403.
"""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.access.models import Team, User
from comptoir.access.policy import can, restrict, rule_for
from comptoir.activities.models import Activity
from comptoir.core.models import AuditEntry, CustomField, OutboxEvent
from comptoir.crm.models import Account, Contact, Lead, Opportunity, Pipeline
from comptoir.documents.models import Attachment
from comptoir.sales.models import (
    PriceList,
    PriceListItem,
    Product,
    SalesDocument,
    SalesDocumentLine,
)
from comptoir.service.models import Case
from comptoir.testing import factories
from comptoir.testing.personas import PERSONAS

Y, N = True, False


@pytest.fixture
def world(shared_world: Any) -> Any:
    """Built once for this module (read-mostly tests; each test's changes are rolled back)."""
    return shared_world


@pytest.fixture
def personas(shared_world: Any) -> Any:
    return shared_world.personas

#                     owner teammate manager outsider admin data_mgr marketing service
VIEW: dict[str, tuple[bool, ...]] = {
    "account":         (Y,    Y,       Y,      N,       Y,    Y,       Y,        Y),
    "private_account": (Y,    N,       Y,      N,       Y,    Y,       Y,        Y),
    "contact":         (Y,    Y,       Y,      N,       Y,    Y,       Y,        Y),
    "lead":            (Y,    N,       Y,      N,       Y,    Y,       Y,        N),
    "opportunity":     (Y,    Y,       Y,      N,       Y,    Y,       N,        N),
    "activity":        (Y,    Y,       Y,      N,       Y,    Y,       N,        N),
    "case":            (Y,    Y,       Y,      N,       Y,    Y,       N,        Y),
    "sales_document":  (Y,    Y,       Y,      N,       Y,    Y,       N,        N),
    "attachment":      (Y,    Y,       Y,      N,       Y,    Y,       N,        N),
    "product":         (Y,    Y,       Y,      Y,       Y,    Y,       Y,        Y),
    "price_list":      (Y,    Y,       Y,      Y,       Y,    Y,       Y,        Y),
}

#                     owner teammate manager outsider admin data_mgr marketing service
PATCH: dict[str, tuple[int, ...]] = {
    "account":         (200,  200,     200,    404,     200,  200,     403,      403),
    "private_account": (200,  404,     200,    404,     200,  200,     403,      403),
    "contact":         (200,  200,     200,    404,     200,  200,     403,      403),
    "lead":            (200,  404,     200,    404,     200,  200,     200,      404),
    "opportunity":     (200,  200,     200,    404,     200,  200,     404,      404),
    "activity":        (200,  200,     200,    404,     200,  200,     404,      404),
    "case":            (200,  200,     200,    404,     200,  200,     404,      200),
    "sales_document":  (200,  200,     200,    404,     200,  200,     404,      404),
    "product":         (403,  403,     403,    403,     200,  200,     403,      403),
    "price_list":      (403,  403,     403,    403,     200,  200,     403,      403),
}

# Delete needs ownership in the scope: the teammate sees and edits the territory's records but
# may not delete them (the service refuses: 403).
#                     owner teammate manager outsider admin data_mgr marketing service
DELETE: dict[str, tuple[int, ...]] = {
    "account":         (204,  403,     204,    404,     204,  204,     403,      403),
    "private_account": (204,  404,     204,    404,     204,  204,     403,      403),
    "contact":         (204,  403,     204,    404,     204,  204,     403,      403),
    "lead":            (204,  404,     204,    404,     204,  204,     403,      404),
    "opportunity":     (204,  403,     204,    404,     204,  204,     404,      404),
    "activity":        (204,  403,     204,    404,     204,  204,     404,      404),
    "case":            (204,  403,     204,    404,     204,  204,     404,      403),
    "sales_document":  (204,  403,     204,    404,     204,  204,     404,      404),
    "attachment":      (204,  403,     204,    404,     204,  204,     404,      404),
    "product":         (403,  403,     403,    403,     204,  204,     403,      403),
    "price_list":      (403,  403,     403,    403,     204,  204,     403,      403),
}

PATHS = {
    "account": "accounts", "private_account": "accounts", "contact": "contacts",
    "lead": "leads", "opportunity": "opportunities", "activity": "activities", "case": "cases",
    "sales_document": "sales-documents", "attachment": "attachments", "product": "products",
    "price_list": "pricelists",
}
MODELS: dict[str, type[Any]] = {
    "account": Account, "private_account": Account, "contact": Contact, "lead": Lead,
    "opportunity": Opportunity, "activity": Activity, "case": Case,
    "sales_document": SalesDocument, "attachment": Attachment, "product": Product,
    "price_list": PriceList,
}
# One harmless change per kind: (field, new value) — the attachment API has no PATCH.
CHANGES: dict[str, tuple[str, str]] = {
    "account": ("trade_name", "Renamed"), "private_account": ("trade_name", "Renamed"),
    "contact": ("job_title", "Buyer"), "lead": ("job_title", "CTO"),
    "opportunity": ("description", "Updated"), "activity": ("body", "Updated"),
    "case": ("description", "Updated"), "sales_document": ("notes", "Updated"),
    "product": ("name", "Renamed"), "price_list": ("name", "Renamed list"),
}
CATALOGUE = {"product", "price_list"}


def record(world: Any, kind: str) -> Any:
    """The owner's record of ``kind`` (the catalogue's for products and price lists)."""
    if kind == "product":
        return world.product
    if kind == "price_list":
        return world.price_list
    return world.mine.get(kind)


def expected(table: dict[str, tuple[Any, ...]], kind: str, persona: str) -> Any:
    return table[kind][PERSONAS.index(persona)]


def matrix(table: dict[str, tuple[Any, ...]]) -> list[Any]:
    """One named pytest row per (kind, persona), with the expected outcome."""
    return [pytest.param(kind, persona, expected(table, kind, persona),
                         id=f"{kind}-{persona}-{expected(table, kind, persona)}")
            for kind in table for persona in PERSONAS]


def test_tables_cover_every_persona_and_kind() -> None:
    for table in (VIEW, PATCH, DELETE):
        assert all(len(row) == len(PERSONAS) for row in table.values())
    assert set(VIEW) == set(PATHS) == set(DELETE)
    assert set(PATCH) == set(PATHS) - {"attachment"}


def test_manager_is_two_levels_above_the_owner(personas: Any) -> None:
    assert personas.owner.manager == personas.lead_rep
    assert personas.lead_rep.manager == personas.manager
    assert personas.manager.manager is None
    assert not personas.manager.teams.exists()
    assert not personas.manager.territories.exists()


def test_world_is_laid_out_as_described(world: Any) -> None:
    p = world.personas
    assert world.mine.account.territory == p.rhone
    assert world.mine.private_account.territory is None
    assert world.theirs.account.territory == p.provence
    assert p.rhone.teams.get() == p.north
    assert set(p.north.members.all()) == {p.owner, p.teammate}
    for kind in ("account", "private_account", "contact", "lead", "opportunity", "activity",
                 "case", "sales_document"):
        assert world.mine.get(kind).owner == p.owner, kind
        assert world.theirs.get(kind).owner == p.outsider, kind
    assert world.mine.attachment.uploaded_by == p.owner


# --- The API, action by action ------------------------------------------------------------

@pytest.mark.parametrize(("kind", "persona", "sees"), matrix(VIEW))
def test_list(world: Any, api: Any, kind: str, persona: str, sees: bool) -> None:
    ids = api(world.personas[persona]).ids(PATHS[kind])
    assert (record(world, kind).pk in ids) is sees


@pytest.mark.parametrize(("kind", "persona", "sees"), matrix(VIEW))
def test_detail(world: Any, api: Any, kind: str, persona: str, sees: bool) -> None:
    obj = record(world, kind)
    response = api(world.personas[persona]).get(f"{PATHS[kind]}/{obj.pk}")
    if sees:
        assert response.expect(200)["id"] == obj.pk
    else:
        assert response.error(404)["code"] == "not_found"


@pytest.mark.parametrize(("kind", "persona", "status"), matrix(PATCH))
def test_patch(world: Any, api: Any, kind: str, persona: str, status: int) -> None:
    obj = record(world, kind)
    field, value = CHANGES[kind]
    before = getattr(obj, field)
    audits = AuditEntry.objects.count()
    response = api(world.personas[persona]).patch(f"{PATHS[kind]}/{obj.pk}", {field: value})
    body = response.expect(status)
    obj.refresh_from_db()
    if status == 200:
        assert body[field] == value
        assert getattr(obj, field) == value
        assert AuditEntry.objects.count() == audits + 1
    else:
        assert getattr(obj, field) == before
        assert AuditEntry.objects.count() == audits


@pytest.mark.parametrize(("kind", "persona", "status"), matrix(DELETE))
def test_delete(world: Any, api: Any, kind: str, persona: str, status: int) -> None:
    obj = record(world, kind)
    response = api(world.personas[persona]).delete(f"{PATHS[kind]}/{obj.pk}")
    response.expect(status)
    still_there = MODELS[kind].objects.filter(pk=obj.pk).exists()
    assert still_there is (status != 204)
    if status == 204:
        assert response.content == b""


# Lists hold exactly what the persona may see: the owner's records and the outsider's.
def sees_theirs(kind: str, persona: str) -> bool:
    """Whether ``persona`` sees the outsider's record of ``kind``: the outsider does; the
    owner's side (owner, teammate, manager) has no link to it; roles read as for any record."""
    if persona == "outsider":
        return True
    if persona in ("owner", "teammate", "manager"):
        return False
    return expected(VIEW, kind, persona)


LIST_KINDS = ["account", "contact", "lead", "opportunity", "activity", "case", "sales_document",
              "attachment"]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("kind", LIST_KINDS)
def test_list_holds_exactly_the_visible_records(world: Any, api: Any, kind: str,
                                                persona: str) -> None:
    wanted = set()
    kinds = ["account", "private_account"] if kind == "account" else [kind]
    for k in kinds:
        if expected(VIEW, k, persona):
            wanted.add(world.mine.get(k).pk)
        if sees_theirs(k, persona):
            wanted.add(world.theirs.get(k).pk)
    ids = api(world.personas[persona]).ids(PATHS[kind])
    assert len(ids) == len(set(ids)), "an item listed twice"
    assert set(ids) == wanted


# --- Nested lists ---------------------------------------------------------------------------

# (parent kind, route below the parent, child kind): in the world, the owner's child record
# hangs under the owner's parent record.
NESTED = [
    ("account", "contacts", "contact"),
    ("account", "opportunities", "opportunity"),
    ("account", "activities", "activity"),
    ("account", "cases", "case"),
    ("account", "sales-documents", "sales_document"),
    ("account", "attachments", "attachment"),
    ("contact", "opportunities", "opportunity"),
    ("contact", "activities", "activity"),
    ("opportunity", "activities", "activity"),
    ("opportunity", "sales-documents", "sales_document"),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("parent", "route", "child"), NESTED,
                         ids=[f"{p}-{r}" for p, r, _c in NESTED])
def test_nested_list(world: Any, api: Any, parent: str, route: str, child: str,
                     persona: str) -> None:
    parent_obj = world.mine.get(parent)
    response = api(world.personas[persona]).get(f"{PATHS[parent]}/{parent_obj.pk}/{route}",
                                                  {"limit": 500})
    if not expected(VIEW, parent, persona):
        assert response.error(404)["code"] == "not_found"
        return
    ids = {item["id"] for item in response.expect(200)["items"]}
    child_obj = world.mine.get(child)
    assert ids == ({child_obj.pk} if expected(VIEW, child, persona) else set())


@pytest.mark.parametrize(("route", "child"), [(r, c) for p, r, c in NESTED if p == "account"])
def test_nested_list_of_the_outsiders_account_is_404_for_the_owner(
        world: Any, api: Any, route: str, child: str) -> None:
    response = api(world.personas.owner).get(f"accounts/{world.theirs.account.pk}/{route}")
    response.error(404)
    # and the outsider sees their own children there
    mine = api(world.personas.outsider).get(f"accounts/{world.theirs.account.pk}/{route}")
    assert [i["id"] for i in mine.expect(200)["items"]] == [world.theirs.get(child).pk]


OVERVIEW_SECTIONS = {"contacts": "contact", "opportunities": "opportunity",
                     "activities": "activity", "cases": "case",
                     "sales_documents": "sales_document", "attachments": "attachment"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_account_overview_sections_follow_the_policy(world: Any, api: Any,
                                                     persona: str) -> None:
    """``/accounts/{id}/overview`` shows each related list as its own endpoint would."""
    account = world.mine.account
    response = api(world.personas[persona]).get(f"accounts/{account.pk}/overview")
    if not expected(VIEW, "account", persona):
        response.error(404)
        return
    body = response.expect(200)
    assert body["account"]["id"] == account.pk
    for section, kind in OVERVIEW_SECTIONS.items():
        wanted = [world.mine.get(kind).pk] if expected(VIEW, kind, persona) else []
        assert [item["id"] for item in body[section]] == wanted, section


# --- Filters never widen what a persona sees -----------------------------------------------

def filters_for(world: Any, kind: str) -> list[dict[str, Any]]:
    mine = world.mine.get(kind)
    owner_key = "uploaded_by_id" if kind == "attachment" else "owner_id"
    search = {
        "account": "Olivia", "contact": "OliviaContact", "lead": "Olivia Prospect",
        "opportunity": "Olivia renewal", "activity": "Olivia call", "case": "Olivia broken",
        "sales_document": mine.number if kind == "sales_document" else "",
        "attachment": "olivia-notes",
    }[kind]
    out: list[dict[str, Any]] = [{owner_key: world.personas.owner.pk}, {"q": search},
                                 {owner_key: world.personas.owner.pk, "q": search}]
    if kind != "lead":
        account_key = "id" if kind == "account" else "account_id"
        if kind != "account":
            out.append({account_key: world.mine.account.pk})
        out.append({owner_key: f"{world.personas.owner.pk},{world.personas.outsider.pk}"})
    return out


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_filters_never_leak_to_the_outsider(world: Any, api: Any, kind: str) -> None:
    outsider = api(world.personas.outsider)
    owner = api(world.personas.owner)
    mine = world.mine.get(kind).pk
    theirs = {world.theirs.get(kind).pk}
    if kind == "account":
        theirs.add(world.theirs.private_account.pk)
    for params in filters_for(world, kind):
        assert mine in owner.ids(PATHS[kind], **params), params  # the filter does match
        assert set(outsider.ids(PATHS[kind], **params)) <= theirs, params


@pytest.mark.parametrize("kind", ["opportunity", "activity", "sales_document", "attachment"])
@pytest.mark.parametrize("persona", ["marketing", "service"])
def test_filters_never_leak_to_roles_without_read_rights(world: Any, api: Any, kind: str,
                                                         persona: str) -> None:
    client = api(world.personas[persona])
    for params in filters_for(world, kind):
        assert client.ids(PATHS[kind], **params) == [], params


def test_filters_do_not_leak_to_the_teammate_outside_the_territory(world: Any,
                                                                   api: Any) -> None:
    teammate = api(world.personas.teammate)
    ids = teammate.ids("accounts", owner_id=world.personas.owner.pk)
    assert ids == [world.mine.account.pk]  # not the owner's private account
    assert teammate.ids("accounts", q="Private") == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_audit_trail_follows_visibility(world: Any, api: Any, persona: str) -> None:
    account = world.mine.private_account
    response = api(world.personas[persona]).get(f"audit/account/{account.pk}")
    if expected(VIEW, "private_account", persona):
        actions = [entry["action"] for entry in response.expect(200)]
        assert actions == ["create"]
    else:
        response.error(404)


# --- The policy itself ----------------------------------------------------------------------

POLICY_KINDS: dict[type[Any], str] = {
    Account: "account", Contact: "contact", Lead: "lead", Opportunity: "opportunity",
    Activity: "activity", Case: "case", SalesDocument: "sales_document",
    SalesDocumentLine: "sales_document", Attachment: "attachment", Product: "product",
    PriceList: "price_list", PriceListItem: "price_list",
}


def policy_records(world: Any, model: type[Any], side: str) -> set[int]:
    """The pks of ``model`` belonging to one side of the world (``mine`` or ``theirs``)."""
    records = getattr(world, side)
    if model is Account:
        return {records.account.pk, records.private_account.pk}
    if model is SalesDocumentLine:
        return set(records.sales_document.lines.values_list("pk", flat=True))
    if model in (Product, PriceList, PriceListItem):
        return set(model.objects.values_list("pk", flat=True)) if side == "mine" else set()
    return {records.get(POLICY_KINDS[model]).pk}


# The attachment API has no PATCH, but the policy's ``change`` rule for it is the general one.
POLICY_CHANGE = {**PATCH, "attachment": PATCH["opportunity"]}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("model", list(POLICY_KINDS), ids=lambda m: m.__name__)
@pytest.mark.parametrize(("action", "table", "ok"), [
    ("view", VIEW, True), ("change", POLICY_CHANGE, 200), ("delete", DELETE, 204),
], ids=["view", "change", "delete"])
def test_restrict(world: Any, model: type[Any], persona: str, action: Any,
                  table: dict[str, tuple[Any, ...]], ok: Any) -> None:
    user = world.personas[persona]
    kind = POLICY_KINDS[model]
    mine_ok = expected(table, kind, persona) == ok
    wanted: set[int] = set()
    mine = policy_records(world, model, "mine")
    if model is Account:
        if mine_ok:
            wanted.add(world.mine.account.pk)
        if expected(table, "private_account", persona) == ok:
            wanted.add(world.mine.private_account.pk)
    elif mine_ok:
        wanted |= mine
    # the outsider owns their side; roles act on it as on the owner's side; the owner's
    # side of the organisation has no link to it
    if persona == "outsider" or (persona not in ("owner", "teammate", "manager") and mine_ok):
        wanted |= policy_records(world, model, "theirs")
    assert mine, "the world has no record of this kind"
    got = set(restrict(model.objects.all(), user, action).values_list("pk", flat=True))
    assert got == wanted
    # ``can`` agrees with ``restrict``, record by record
    for obj in model.objects.filter(pk__in=mine):
        assert can(user, action, obj) is (obj.pk in wanted)


def test_every_served_model_is_registered() -> None:
    for model in POLICY_KINDS:
        assert rule_for(model) is not None


@pytest.mark.parametrize("model", [AuditEntry, OutboxEvent, CustomField, User, Team, Pipeline],
                         ids=lambda m: m.__name__)
def test_unregistered_model_raises_lookup_error(personas: Any, model: type[Any]) -> None:
    with pytest.raises(LookupError, match="No visibility rule"):
        restrict(model.objects.all(), personas.owner)
    with pytest.raises(LookupError):
        restrict(model.objects.all(), personas.admin)  # not even for those who see all


def test_anonymous_sees_nothing(world: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    for model in POLICY_KINDS:
        assert not restrict(model.objects.all(), AnonymousUser()).exists(), model


def test_record_owned_in_scope_is_visible_on_a_foreign_account(world: Any) -> None:
    """'Records with an owner are also visible to their owner's scope even when attached
    elsewhere': the owner's deal on the outsider's account."""
    p = world.personas
    deal = factories.opportunity(by=p.admin, account=world.theirs.account, owner=p.owner,
                                 name="Cross-territory deal")
    for persona, sees in [("owner", True), ("manager", True), ("outsider", True),
                          ("teammate", False), ("marketing", False)]:
        assert can(p[persona], "view", deal) is sees, persona
    # the owner may change and delete it; the outsider, whose account it is, may change it
    # (change follows view) but not delete it (not theirs)
    assert can(p.owner, "delete", deal)
    assert can(p.outsider, "change", deal)
    assert not can(p.outsider, "delete", deal)


def test_scope_follows_new_reports(world: Any, api: Any) -> None:
    """A rep moved under the outsider brings their records into the outsider's scope."""
    p = world.personas
    newcomer = factories.user(username="newcomer")
    account = factories.account(by=newcomer, legal_name="Newcomer Ltd",
                                billing_postcode="33100")
    outsider = api(p.outsider)
    outsider.get(f"accounts/{account.pk}").error(404)
    newcomer.manager = p.outsider
    newcomer.save()
    assert outsider.get(f"accounts/{account.pk}").expect(200)["id"] == account.pk
