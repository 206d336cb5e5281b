"""The demo sales organisation, pipeline and catalogue: a few dozen rows made through the ORM.

Idempotent (get-or-create by natural key) so loading the demo twice reuses the same users,
territories and products; only accounts and what hangs off them are added again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.hashers import make_password

from comptoir.access.models import Role, Team, Territory, TerritoryRule, User
from comptoir.crm.models import Pipeline, Stage
from comptoir.sales.models import PriceList, PriceListItem, Product

from .data import PRODUCTS

# Every demo user gets this password. Demo data only: never load the demo on a real instance.
DEMO_PASSWORD = "comptoir"


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    title: str
    manager: str | None = None


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Hélène", "Roussel", Role.ADMIN, "Administratrice"),
    DemoUser("claire.dubois", "Claire", "Dubois", Role.DATA_MANAGER, "Responsable des données"),
    DemoUser("marc.lefebvre", "Marc", "Lefebvre", Role.MANAGER, "Directeur commercial"),
    DemoUser("nadia.benali", "Nadia", "Benali", Role.MANAGER, "Directrice régionale Nord",
             "marc.lefebvre"),
    DemoUser("thomas.girard", "Thomas", "Girard", Role.REP, "Commercial Île-de-France",
             "nadia.benali"),
    DemoUser("julie.moreau", "Julie", "Moreau", Role.REP, "Commerciale Île-de-France",
             "nadia.benali"),
    DemoUser("karim.haddad", "Karim", "Haddad", Role.REP, "Commercial Nord-Est", "nadia.benali"),
    DemoUser("lea.fontaine", "Léa", "Fontaine", Role.REP, "Commerciale Ouest", "nadia.benali"),
    DemoUser("olivier.roux", "Olivier", "Roux", Role.MANAGER, "Directeur régional Sud",
             "marc.lefebvre"),
    DemoUser("camille.perrin", "Camille", "Perrin", Role.REP, "Commerciale Rhône-Alpes",
             "olivier.roux"),
    DemoUser("hugo.blanc", "Hugo", "Blanc", Role.REP, "Commercial Méditerranée",
             "olivier.roux"),
    DemoUser("ines.garnier", "Inès", "Garnier", Role.REP, "Commerciale Sud-Ouest",
             "olivier.roux"),
    DemoUser("antoine.mercier", "Antoine", "Mercier", Role.REP, "Responsable grands comptes",
             "marc.lefebvre"),
    DemoUser("sarah.lambert", "Sarah", "Lambert", Role.MARKETING, "Responsable marketing"),
    DemoUser("paul.nguyen", "Paul", "Nguyen", Role.SERVICE, "Responsable service client"),
    DemoUser("emma.petit", "Emma", "Petit", Role.SERVICE, "Chargée de service client",
             "paul.nguyen"),
)

# (team, leader, members)
TEAMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Région Nord", "nadia.benali",
     ("nadia.benali", "thomas.girard", "julie.moreau", "karim.haddad", "lea.fontaine")),
    ("Région Sud", "olivier.roux",
     ("olivier.roux", "camille.perrin", "hugo.blanc", "ines.garnier")),
    ("Grands comptes", "marc.lefebvre", ("marc.lefebvre", "antoine.mercier")),
    ("Marketing", "sarah.lambert", ("sarah.lambert",)),
    ("Service client", "paul.nguyen", ("paul.nguyen", "emma.petit")),
)


@dataclass(frozen=True)
class TerritorySpec:
    name: str
    priority: int
    kind: str
    values: tuple[str, ...]
    team: str
    reps: tuple[str, ...]  # members who own its accounts; the first is the default owner


_PC = TerritoryRule.Kind.POSTCODE_PREFIX
TERRITORIES: tuple[TerritorySpec, ...] = (
    # Tried first: companies of 500+ employees go to key account management wherever they are.
    TerritorySpec("Grands comptes", 10, TerritoryRule.Kind.HEADCOUNT_BAND,
                  ("41", "42", "51", "52", "53"), "Grands comptes", ("antoine.mercier",)),
    TerritorySpec("Île-de-France", 100, _PC, ("75", "77", "78", "91", "92", "93", "94", "95"),
                  "Région Nord", ("thomas.girard", "julie.moreau")),
    TerritorySpec("Hauts-de-France", 100, _PC, ("02", "59", "60", "62", "80"), "Région Nord",
                  ("karim.haddad",)),
    TerritorySpec("Grand Est", 100, _PC,
                  ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"), "Région Nord",
                  ("karim.haddad",)),
    TerritorySpec("Normandie", 100, _PC, ("14", "27", "50", "61", "76"), "Région Nord",
                  ("lea.fontaine",)),
    TerritorySpec("Bretagne – Pays de la Loire", 100, _PC,
                  ("22", "29", "35", "56", "44", "49", "53", "72", "85"), "Région Nord",
                  ("lea.fontaine",)),
    TerritorySpec("Centre-Val de Loire", 100, _PC, ("18", "28", "36", "37", "41", "45"),
                  "Région Nord", ("lea.fontaine",)),
    TerritorySpec("Auvergne-Rhône-Alpes", 100, _PC,
                  ("69", "01", "38", "42", "73", "74", "03", "07", "15", "26", "43", "63"),
                  "Région Sud", ("camille.perrin",)),
    TerritorySpec("Bourgogne-Franche-Comté", 100, _PC,
                  ("21", "25", "39", "58", "70", "71", "89", "90"), "Région Sud",
                  ("camille.perrin",)),
    TerritorySpec("Provence-Alpes-Côte d'Azur", 100, _PC, ("04", "05", "06", "13", "83", "84"),
                  "Région Sud", ("hugo.blanc",)),
    TerritorySpec("Occitanie", 100, _PC,
                  ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
                  "Région Sud", ("hugo.blanc",)),
    TerritorySpec("Nouvelle-Aquitaine", 100, _PC,
                  ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
                  "Région Sud", ("ines.garnier",)),
)

# (name, order, probability, won, lost)
STAGES: tuple[tuple[str, int, int, bool, bool], ...] = (
    ("Qualification", 1, 10, False, False),
    ("Découverte", 2, 25, False, False),
    ("Proposition", 3, 50, False, False),
    ("Négociation", 4, 75, False, False),
    ("Gagné", 5, 100, True, False),
    ("Perdu", 6, 0, False, True),
)
PIPELINE_NAME = "Ventes"

# Quantity breaks for consumables sold by weight, length or volume: (minimum, discount %).
_BREAKS: dict[str, tuple[tuple[Decimal, int], ...]] = {
    "package": ((Decimal(10), 5), (Decimal(50), 10)),
    "l": ((Decimal(100), 5),),
    "m": ((Decimal(100), 5), (Decimal(500), 10)),
    "kg": ((Decimal(500), 5), (Decimal(1000), 10)),
}
KEY_ACCOUNT_DISCOUNT = 12


@dataclass(frozen=True)
class ProductInfo:
    id: int
    code: str
    name: str
    unit: str
    tax_rate: Decimal
    # (minimum quantity, unit price), largest minimum first, per price list id
    prices: dict[int, tuple[tuple[Decimal, Decimal], ...]]

    def price(self, price_list_id: int, quantity: Decimal) -> Decimal:
        for minimum, unit_price in self.prices[price_list_id]:
            if quantity >= minimum:
                return unit_price
        return self.prices[price_list_id][-1][1]


@dataclass(frozen=True)
class TerritoryInfo:
    id: int
    name: str
    rep_ids: tuple[int, ...]


@dataclass
class Org:
    users: dict[str, User]
    created_usernames: set[str]
    territories: list[Territory]  # with rules prefetched, for match_territory
    territory_info: dict[int, TerritoryInfo]
    pipeline_id: int
    stages: dict[str, Stage]
    products: list[ProductInfo]
    general_price_list_id: int
    key_price_list_id: int
    rep_ids: tuple[int, ...] = field(default=())

    def user_id(self, username: str) -> int:
        return self.users[username].pk


def _discounted(price: Decimal, percent: int) -> Decimal:
    return (price * (100 - percent) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _users() -> tuple[dict[str, User], set[str]]:
    # One PBKDF2 hash for every demo user: hashing the same demo password sixteen times would
    # cost seconds for no security gain (the password is public).
    password = make_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    created: set[str] = set()
    for spec in DEMO_USERS:
        user, was_created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name, "last_name": spec.last_name, "role": spec.role,
                "email": f"{spec.username}@comptoir.example", "password": password,
                "is_staff": spec.role in (Role.ADMIN, Role.DATA_MANAGER),
                "is_superuser": spec.role == Role.ADMIN,
                "manager": users.get(spec.manager) if spec.manager else None,
            },
        )
        users[spec.username] = user
        if was_created:
            created.add(spec.username)
    return users, created


def _teams(users: dict[str, User]) -> dict[str, Team]:
    teams = {}
    for name, leader, members in TEAMS:
        team, _ = Team.objects.get_or_create(name=name, defaults={"leader": users[leader]})
        team.members.add(*(users[m] for m in members))
        teams[name] = team
    return teams


def _territories(users: dict[str, User], teams: dict[str, Team]
                 ) -> tuple[list[Territory], dict[int, TerritoryInfo]]:
    info = {}
    for spec in TERRITORIES:
        territory, created = Territory.objects.get_or_create(
            name=spec.name,
            defaults={"priority": spec.priority, "default_owner": users[spec.reps[0]]},
        )
        if created:
            TerritoryRule.objects.bulk_create(
                TerritoryRule(territory=territory, kind=spec.kind, value=v) for v in spec.values
            )
            territory.teams.add(teams[spec.team])
            territory.members.add(*(users[r] for r in spec.reps))
        info[territory.pk] = TerritoryInfo(territory.pk, territory.name,
                                           tuple(users[r].pk for r in spec.reps))
    territories = list(Territory.objects.filter(active=True).prefetch_related("rules")
                       .order_by("priority", "id"))
    return territories, info


def _pipeline() -> tuple[int, dict[str, Stage]]:
    pipeline, created = Pipeline.objects.get_or_create(
        name=PIPELINE_NAME, defaults={"is_default": not Pipeline.objects.exists()}
    )
    if created:
        Stage.objects.bulk_create(
            Stage(pipeline=pipeline, name=name, order=order, probability=probability,
                  is_won=won, is_lost=lost)
            for name, order, probability, won, lost in STAGES
        )
    stages = {s.name: s for s in Stage.objects.filter(pipeline=pipeline)}
    return pipeline.pk, stages


def _catalogue(today: dt.date) -> tuple[list[ProductInfo], int, int]:
    start = today.replace(month=1, day=1)
    general, general_created = PriceList.objects.get_or_create(
        name=f"Tarif général {today.year}",
        defaults={"valid_from": start, "valid_to": start.replace(month=12, day=31)},
    )
    key, key_created = PriceList.objects.get_or_create(
        name=f"Tarif grands comptes {today.year}",
        defaults={"valid_from": start, "valid_to": start.replace(month=12, day=31)},
    )
    products = []
    items: list[PriceListItem] = []
    for code, name, unit, rate, list_price in PRODUCTS:
        product, _ = Product.objects.get_or_create(
            code=code, defaults={"name": name, "unit": unit, "tax_rate": rate}
        )
        general_prices = [(Decimal(1), list_price)] + [
            (minimum, _discounted(list_price, pct)) for minimum, pct in _BREAKS.get(unit, ())
        ]
        key_prices = [(m, _discounted(p, KEY_ACCOUNT_DISCOUNT)) for m, p in general_prices]
        for price_list, prices, created in ((general, general_prices, general_created),
                                            (key, key_prices, key_created)):
            if created:
                items.extend(PriceListItem(price_list=price_list, product=product,
                                           min_quantity=m, unit_price=p) for m, p in prices)
        products.append(ProductInfo(
            product.pk, product.code, product.name, product.unit, Decimal(product.tax_rate),
            {general.pk: tuple(reversed(general_prices)), key.pk: tuple(reversed(key_prices))},
        ))
    PriceListItem.objects.bulk_create(items)
    return products, general.pk, key.pk


def build_org(today: dt.date) -> Org:
    """Create (or find) the demo organisation; call inside a transaction."""
    users, created = _users()
    teams = _teams(users)
    territories, info = _territories(users, teams)
    pipeline_id, stages = _pipeline()
    products, general_id, key_id = _catalogue(today)
    reps = tuple(users[s.username].pk for s in DEMO_USERS if s.role == Role.REP)
    from .company import load_demo_company, load_demo_lost_reasons

    load_demo_company()
    load_demo_lost_reasons()
    return Org(users, created, territories, info, pipeline_id, stages, products, general_id,
               key_id, reps)
