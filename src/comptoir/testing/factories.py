"""Plain factories: each returns one valid record, created the way production creates it.

Domain records go through their services (``account_create``…), so territory assignment, audit
entries, outbox events and validation apply; the acting user is the keyword ``by``. Users,
teams, territories and pipelines are configuration and are created with the ORM.

Keyword arguments are the service's data; a model instance may be given for a foreign key
(``owner=user`` becomes ``owner_id=user.pk``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models

from comptoir.access.models import Role, Team, Territory, TerritoryRule, User
from comptoir.activities.models import Activity
from comptoir.crm.models import Account, Contact, Lead, Opportunity, Pipeline, Stage
from comptoir.documents.models import Attachment
from comptoir.quality.identifiers import siren_with_check_digit
from comptoir.sales.models import PriceList, Product, SalesDocument
from comptoir.service.models import Case

_counter = itertools.count(1)


def seq() -> int:
    """A number unique in this process, for names, codes and identifiers."""
    return next(_counter)


def siren(n: int | None = None) -> str:
    """A valid SIREN (Luhn check digit), different for each ``n``."""
    number = seq() if n is None else n
    return siren_with_check_digit(f"{(41_000_000 + number) % 100_000_000:08d}")


def _ids(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, models.Model):
            out[key if key.endswith("_id") else f"{key}_id"] = value.pk
        else:
            out[key] = value
    return out


# --- Configuration (ORM) -------------------------------------------------------------------

def user(*, username: str | None = None, role: str = Role.REP, manager: User | None = None,
         **fields: Any) -> User:
    """A user without a usable password (API tests use tokens; hashing is slow)."""
    name = username or f"user{seq()}"
    fields.setdefault("email", f"{name}@example.com")
    fields.setdefault("first_name", name.capitalize())
    obj = User(username=name, role=role, manager=manager, **fields)
    obj.set_unusable_password()
    obj.save()
    return obj


def team(*, name: str | None = None, members: Iterable[User] = (),
         leader: User | None = None) -> Team:
    obj = Team.objects.create(name=name or f"Team {seq()}", leader=leader)
    obj.members.set(list(members))
    return obj


def territory(*, name: str | None = None, priority: int = 100,
              rules: Iterable[tuple[str, str]] = (), teams: Iterable[Team] = (),
              members: Iterable[User] = (), default_owner: User | None = None,
              active: bool = True) -> Territory:
    """A territory; ``rules`` are ``(kind, value)`` pairs, e.g. ``("postcode_prefix", "69")``."""
    obj = Territory.objects.create(name=name or f"Territory {seq()}", priority=priority,
                                   default_owner=default_owner, active=active)
    for kind, value in rules:
        TerritoryRule.objects.create(territory=obj, kind=kind, value=value)
    obj.teams.set(list(teams))
    obj.members.set(list(members))
    return obj


DEFAULT_STAGES: Sequence[tuple[str, int, bool, bool]] = (
    ("Qualification", 10, False, False),
    ("Proposal", 50, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
)


def pipeline(*, name: str | None = None, is_default: bool = True,
             stages: Sequence[tuple[str, int, bool, bool]] = DEFAULT_STAGES) -> Pipeline:
    """A pipeline with ordered stages ``(name, probability, is_won, is_lost)``."""
    obj = Pipeline.objects.create(name=name or f"Pipeline {seq()}", is_default=is_default)
    for order, (stage_name, probability, won, lost) in enumerate(stages, start=1):
        Stage.objects.create(pipeline=obj, name=stage_name, order=order * 10,
                             probability=probability, is_won=won, is_lost=lost)
    return obj


def default_pipeline() -> Pipeline:
    """The default pipeline, created on first use."""
    return Pipeline.objects.filter(is_default=True).first() or pipeline(name="Sales")


# --- Domain records (services) -------------------------------------------------------------

def account(*, by: Any, custom: Mapping[str, Any] | None = None, **data: Any) -> Account:
    from comptoir.crm.services import account_create

    n = seq()
    data.setdefault("legal_name", f"Account {n}")
    return account_create(user=by, data=_ids(data), custom=custom, source="tests")


def contact(*, by: Any, account: Account, custom: Mapping[str, Any] | None = None,
            **data: Any) -> Contact:
    from comptoir.crm.services import contact_create

    data.setdefault("last_name", f"Contact{seq()}")
    data["account_id"] = account.pk
    return contact_create(user=by, data=_ids(data), custom=custom, source="tests")


def lead(*, by: Any, custom: Mapping[str, Any] | None = None, **data: Any) -> Lead:
    from comptoir.crm.services import lead_create

    n = seq()
    data.setdefault("last_name", f"Lead{n}")
    if not data.get("phone"):
        data.setdefault("email", f"lead{n}@lead{n}.example.org")
    return lead_create(user=by, data=_ids(data), custom=custom, source="tests")


def opportunity(*, by: Any, account: Account, custom: Mapping[str, Any] | None = None,
                **data: Any) -> Opportunity:
    from comptoir.crm.services import opportunity_create

    default_pipeline()
    data.setdefault("name", f"Deal {seq()}")
    data["account_id"] = account.pk
    return opportunity_create(user=by, data=_ids(data), custom=custom, source="tests")


def activity(*, by: Any, custom: Mapping[str, Any] | None = None, **data: Any) -> Activity:
    from comptoir.activities.services import activity_create

    data.setdefault("subject", f"Call {seq()}")
    data.setdefault("kind", "call")
    if not data.get("done") and data["kind"] != "note" and not (
            data.get("due_at") or data.get("start_at")):
        # a planned activity needs a date (activities.services): far enough not to be "today"
        from django.utils import timezone

        data["due_at"] = timezone.now() + dt.timedelta(days=30)
    return activity_create(user=by, data=_ids(data), custom=custom, source="tests")


def case(*, by: Any, account: Account, custom: Mapping[str, Any] | None = None,
         **data: Any) -> Case:
    from comptoir.service.services import case_create

    data.setdefault("subject", f"Case {seq()}")
    data["account_id"] = account.pk
    return case_create(user=by, data=_ids(data), custom=custom, source="tests")


def product(*, by: Any, custom: Mapping[str, Any] | None = None, **data: Any) -> Product:
    from comptoir.sales.services import product_create

    n = seq()
    data.setdefault("code", f"P{n:05d}")
    data.setdefault("name", f"Product {n}")
    return product_create(user=by, data=_ids(data), custom=custom, source="tests")


def pricelist(*, by: Any, items: Sequence[Mapping[str, Any]] | None = None,
              **data: Any) -> PriceList:
    """A price list; ``items`` as ``{"product": p, "unit_price": Decimal("9.90"), ...}``."""
    from comptoir.sales.services import pricelist_create

    data.setdefault("name", f"Prices {seq()}")
    return pricelist_create(user=by, data=_ids(data),
                            items=[_ids(i) for i in items] if items else None, source="tests")


def sales_document(*, by: Any, account: Account, lines: Sequence[Mapping[str, Any]] | None = None,
                   custom: Mapping[str, Any] | None = None, **data: Any) -> SalesDocument:
    """A sales document (a quote unless ``kind`` says otherwise) with its lines."""
    from comptoir.sales.services import salesdocument_create

    data.setdefault("kind", SalesDocument.Kind.QUOTE)
    data["account_id"] = account.pk
    if lines is None:
        lines = [{"description": "Consulting", "quantity": Decimal("2"),
                  "unit_price": Decimal("100.00")}]
    return salesdocument_create(user=by, data=_ids(data), lines=[_ids(ln) for ln in lines],
                                custom=custom, source="tests")


TARGET_OF: dict[type[models.Model], str] = {
    Account: "account", Contact: "contact", Opportunity: "opportunity", Case: "case",
    SalesDocument: "sales_document",
}


def attachment(*, by: Any, on: models.Model, name: str = "notes.txt",
               content: bytes = b"Meeting notes\n") -> Attachment:
    """A file attached to ``on`` (an account, contact, opportunity, case or sales document)."""
    from comptoir.documents.services import attachment_create

    upload = SimpleUploadedFile(name, content)
    return attachment_create(user=by, target=TARGET_OF[type(on)], target_id=on.pk,
                             upload=upload, name=name, source="tests")
