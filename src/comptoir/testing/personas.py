"""The named users of access tests, and the records they own.

Organisation (``make_personas``)::

    manager (sales manager, no team, no territory)
      └── lead_rep (the owner's direct manager)
            └── owner (rep, team "North", which covers territory "Rhône", postcodes 69…)
    teammate (rep, team "North": sees Rhône's accounts through the team; nobody's manager)
    outsider (rep, team "South", territory "Provence", postcodes 13…)
    admin, data_manager, marketing, service (roles, no team)

``manager`` is two levels above ``owner``, so seeing the owner's records proves the hierarchy is
followed recursively. Records (``make_world``): the owner's account in Rhône with one record of
every kind attached, a private account of the owner outside any territory, a lead of the owner,
the same set for the outsider in Provence, and a catalogue (product, price list).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from comptoir.access.models import Role, Team, Territory, TerritoryRule, User
from comptoir.activities.models import Activity
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.documents.models import Attachment
from comptoir.sales.models import PriceList, Product, SalesDocument
from comptoir.service.models import Case

from . import factories

PERSONAS = ("owner", "teammate", "manager", "outsider", "admin", "data_manager", "marketing",
            "service")
"""Every persona name, in the order test matrices list them."""

OWNER_POSTCODE = "69002"
OUTSIDER_POSTCODE = "13001"
NO_TERRITORY_POSTCODE = "33000"


@dataclass
class Personas:
    owner: User
    teammate: User
    manager: User
    lead_rep: User
    outsider: User
    admin: User
    data_manager: User
    marketing: User
    service: User
    north: Team
    south: Team
    rhone: Territory
    provence: Territory

    def __getitem__(self, name: str) -> User:
        value = getattr(self, name)
        assert isinstance(value, User), name
        return value

    def users(self) -> dict[str, User]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if isinstance(getattr(self, f.name), User)}


def make_personas() -> Personas:
    user = factories.user
    manager = user(username="manager", role=Role.MANAGER, first_name="Margaux")
    lead_rep = user(username="lead_rep", role=Role.MANAGER, manager=manager, first_name="Louis")
    owner = user(username="owner", manager=lead_rep, first_name="Olivia", last_name="Owner")
    teammate = user(username="teammate", first_name="Théo")
    outsider = user(username="outsider", first_name="Oscar")
    north = factories.team(name="North", members=[owner, teammate], leader=lead_rep)
    south = factories.team(name="South", members=[outsider])
    rhone = factories.territory(name="Rhône", priority=10, teams=[north],
                                rules=[(TerritoryRule.Kind.POSTCODE_PREFIX, "69")])
    provence = factories.territory(name="Provence", priority=20, teams=[south],
                                   rules=[(TerritoryRule.Kind.POSTCODE_PREFIX, "13")])
    return Personas(
        owner=owner, teammate=teammate, manager=manager, lead_rep=lead_rep, outsider=outsider,
        admin=user(username="admin", role=Role.ADMIN),
        data_manager=user(username="data_manager", role=Role.DATA_MANAGER),
        marketing=user(username="marketing", role=Role.MARKETING),
        service=user(username="service", role=Role.SERVICE),
        north=north, south=south, rhone=rhone, provence=provence,
    )


@dataclass
class Records:
    """One record of every served kind, owned by one rep."""

    account: Account
    private_account: Account
    contact: Contact
    lead: Lead
    opportunity: Opportunity
    activity: Activity
    case: Case
    sales_document: SalesDocument
    attachment: Attachment

    def get(self, kind: str) -> Any:
        return getattr(self, kind)


@dataclass
class World:
    personas: Personas
    mine: Records  # the owner's
    theirs: Records  # the outsider's
    product: Product
    price_list: PriceList


def make_records(rep: User, *, postcode: str, label: str) -> Records:
    f = factories
    account = f.account(by=rep, legal_name=f"{label} Industries", billing_postcode=postcode,
                        billing_city="Ville", siren=f.siren())
    private = f.account(by=rep, legal_name=f"{label} Private Client",
                        billing_postcode=NO_TERRITORY_POSTCODE)
    contact = f.contact(by=rep, account=account, first_name="Camille",
                        last_name=f"{label}Contact", email=f"camille@{label.lower()}.example",
                        owner=rep)
    opportunity = f.opportunity(by=rep, account=account, name=f"{label} renewal",
                                amount=Decimal("12000"), contact=contact)
    return Records(
        account=account,
        private_account=private,
        contact=contact,
        lead=f.lead(by=rep, company_name=f"{label} Prospect", last_name=f"{label}Lead"),
        opportunity=opportunity,
        activity=f.activity(by=rep, contact=contact, opportunity=opportunity,
                            subject=f"{label} call"),
        case=f.case(by=rep, account=account, subject=f"{label} broken widget"),
        sales_document=f.sales_document(by=rep, account=account, opportunity=opportunity,
                                        notes=f"{label} quote"),
        attachment=f.attachment(by=rep, on=account, name=f"{label.lower()}-notes.txt"),
    )


def make_world(personas: Personas | None = None) -> World:
    p = personas or make_personas()
    factories.default_pipeline()
    mine = make_records(p.owner, postcode=OWNER_POSTCODE, label="Olivia")
    theirs = make_records(p.outsider, postcode=OUTSIDER_POSTCODE, label="Oscar")
    product = factories.product(by=p.admin, code="WIDGET", name="Widget")
    price_list = factories.pricelist(by=p.admin, name="Public 2025",
                                     items=[{"product": product, "unit_price": Decimal("9.90")}])
    return World(personas=p, mine=mine, theirs=theirs, product=product, price_list=price_list)


def _fresh(obj: Any) -> Any:
    """An independent copy of a model instance, without cached relations or visibility scope."""
    clone = copy.copy(obj)  # Model.__getstate__ copies ``_state`` and its caches
    clone._state.fields_cache = {}
    clone.__dict__.pop("_prefetched_objects_cache", None)
    clone.__dict__.pop("_comptoir_scope", None)
    for key, value in clone.__dict__.items():
        if isinstance(value, dict | list):  # JSON fields (``custom``) are mutable
            clone.__dict__[key] = copy.deepcopy(value)
    return clone


def refreshed(world: World) -> World:
    """Fresh copies of every instance of a world shared by several tests.

    A world built once per module must not carry one test's in-memory changes, nor a cached
    visibility scope, into the next test. Each test's writes are rolled back, so the state the
    instances had when the world was built is the database state: copying them is as good as
    reading them again, and costs no query.
    """
    p = world.personas
    personas = Personas(**{f.name: _fresh(getattr(p, f.name)) for f in fields(p)})

    def records(r: Records) -> Records:
        return Records(**{f.name: _fresh(getattr(r, f.name)) for f in fields(r)})

    return World(personas=personas, mine=records(world.mine), theirs=records(world.theirs),
                 product=_fresh(world.product), price_list=_fresh(world.price_list))
