"""Streamed, bulk generator of the demo data set.

Demo loading is a *seed*, not a business write: rows go straight to the tables with
``cursor.executemany``, one transaction per chunk of accounts, without the per-row audit entries
and outbox events the domain services write. That is what makes a million accounts load in
minutes with flat memory: each chunk is generated, written and forgotten. The values are built to
pass the same rules as the services (valid SIREN/SIRET/VAT through python-stdnum, E.164 phones,
territories from the real assignment rules, totals from ``compute_totals``).

Primary keys are allocated here (from the current maximum), so children can point at parents
without reading ids back; PostgreSQL sequences are reset at the end. Do not run the demo while
other processes write to the same database.

Everything random comes from one ``random.Random(seed)``, so a seed gives the same data set on a
fresh database; dates are relative to the day of loading.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import operator
import random
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from comptoir.access.models import TerritoryRule
from comptoir.access.territories import match_territory
from comptoir.activities.models import Activity
from comptoir.core.forked import can_fork, produced_in_fork
from comptoir.core.sql import sqlite_bulk_mode, sqlite_pragmas
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.quality.identifiers import (
    normalize_name,
    siren_with_check_digit,
    siret_with_check_digit,
)
from comptoir.sales.models import SalesDocument, SalesDocumentLine
from comptoir.sales.services import NUMBER_PREFIX, compute_totals, money
from comptoir.service.models import Case

from . import data
from .org import build_org

CHUNK_SIZE = 10_000
# Up to this many accounts every account gets its history (opportunities, activities, cases,
# documents); above it only a share does, so a benchmark-sized load stays in minutes.
FULL_DETAIL_UP_TO = 20_000
MIN_DETAIL_SHARE = 0.1

_SIREN_SPAN = 60_000_000  # SIRENs 300000000–899999999
_LA_POSTE_SIREN = "356000000"  # its SIRETs follow another rule: never generate it
_DAY = 86_400
_HISTORY = dt.timedelta(days=4 * 365)  # accounts were created over the last four years
_MOBILE_PREFIXES = ("60", "61", "62", "64", "65", "66", "67", "68", "75", "76", "77", "78")


T = TypeVar("T")


class _FastRandom(random.Random):
    """``random.Random`` whose ``choice``/``randrange``/``randint`` take one ``random()`` call.

    Several times faster than the exact-bits originals (they dominate the generator's profile)
    and uniform enough for demo data; still fully determined by the seed.
    """

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None,  # type: ignore[override]
                  step: int = 1) -> int:
        if stop is None:
            start, stop = 0, start
        count = (stop - start + step - 1) // step
        if count <= 0:
            raise ValueError(f"empty range for randrange({start}, {stop}, {step})")
        return start + step * int(self.random() * count)

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choices(  # type: ignore[override]  # narrower than Random.choices, same behaviour
        self, population: Sequence[T], weights: Sequence[float] | None = None, *,
        cum_weights: Sequence[float] | None = None, k: int = 1,
    ) -> list[T]:
        if cum_weights is not None and weights is None and k == 1:  # CPython's own algorithm
            index = bisect.bisect(cum_weights, self.random() * cum_weights[-1], 0,
                                  len(population) - 1)
            return [population[index]]
        return super().choices(population, weights, cum_weights=cum_weights, k=k)


@dataclass
class DemoResult:
    counts: dict[str, int]
    seconds: float
    created_usernames: set[str] = field(default_factory=set)


def _cum(weights: Iterable[int]) -> list[int]:
    return list(itertools.accumulate(weights))


def _slug(text: str) -> str:
    """ASCII, lower case, letters and digits only: for e-mail local parts."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_text if ch.isalnum())


def _domain_label(name: str) -> str:
    return normalize_name(name).replace(" ", "-") or "entreprise"


def _end_of_month(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def due_date(issue: dt.date, terms: str) -> dt.date:
    """Payment due date under French terms (LME caps: 60 days, or 45 days end of month)."""
    if terms == "net_30":
        return issue + dt.timedelta(days=30)
    if terms == "net_60":
        return issue + dt.timedelta(days=60)
    if terms == "net_45_eom":
        return _end_of_month(issue + dt.timedelta(days=45))
    if terms == "eom_30":
        return _end_of_month(issue) + dt.timedelta(days=30)
    return issue


def company_name(rng: random.Random, words: Sequence[str], postcode: str) -> str:
    """A plausible French company name: a family name and a trade word, a brand, "et Fils"…
    (shared with the duplicate-detection benchmark, which derives its variants from them)."""
    p = rng.random()
    last = rng.choice(data.LAST_NAMES)
    word = rng.choice(words)
    if p < 0.30:
        name = f"{last} {word}"
    elif p < 0.48:
        name = f"{word} {last}"
    elif p < 0.68:
        name = rng.choice(data.BRAND_PREFIXES) + rng.choice(data.BRAND_SUFFIXES)
    elif p < 0.80:
        name = f"{rng.choice(data.BRAND_PREFIXES)}{rng.choice(data.BRAND_SUFFIXES)} {word}"
    elif p < 0.87:
        name = f"{last} et Fils"
    elif p < 0.94:
        name = f"{last} & {rng.choice(data.LAST_NAMES)}"
    else:
        name = f"Établissements {last}"
    if rng.random() < 0.25:
        name = f"{name} {data.AREA_BY_DEPT.get(postcode[:2], 'France')}"
    return name


class _Table:
    """Buffered ``INSERT`` of one model's rows, every concrete column, in one ``executemany``.

    Rows are dicts holding the non-default values; defaults come from the model fields, so the
    statement always names every column and a new non-null field fails loudly here. JSON
    columns (the custom fields) always hold their empty default, written as a SQL literal: the
    rows then carry only plain values (numbers, text, dates), cheap to pass between processes.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        fields = list(model._meta.concrete_fields)
        quote = connection.ops.quote_name
        values = []
        self.columns: list[str] = []
        self.defaults: dict[str, Any] = {}
        for f in fields:
            if isinstance(f, models.JSONField):
                values.append("'{}'" if f.get_default() == {} else "'[]'")
                continue
            values.append("%s")
            self.columns.append(f.attname)
            self.defaults[f.attname] = f.get_default()
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields),
            ", ".join(values),
        )
        self._getter = operator.itemgetter(*self.columns)
        self.rows: list[tuple[Any, ...]] = []
        self._next = (model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1

    def new_id(self) -> int:
        value = self._next
        self._next += 1
        return value

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(self._getter({**self.defaults, **row}))

    def take(self) -> list[tuple[Any, ...]]:
        rows, self.rows = self.rows, []
        return rows


Chunk = dict[str, list[tuple[Any, ...]]]  # table name → rows


def _no_queries(*args: Any) -> None:
    raise RuntimeError("The demo generator process must not use the parent's connection.")


def _in_background(produce: Callable[[], Iterator[Chunk]]) -> Iterator[Chunk]:
    """Generate in a forked process (pure Python) while this one writes (mostly database
    work): a million-account load takes about a third less. The child never queries."""

    def guarded() -> Iterator[Chunk]:
        with connection.execute_wrapper(_no_queries):
            yield from produce()

    return produced_in_fork(guarded, name="demo generator")


@dataclass
class _Acc:
    """What the account's children need to know about it."""

    id: int
    name: str
    legal_name: str
    owner_id: int | None
    status: str
    key_account: bool
    created: dt.datetime
    terms: str
    postcode: str
    city: str
    zone: str
    domain: str
    contacts: list[tuple[int, str, str, str, str, str, str]]  # id, civ, first, last, mail, job, tel
    open_opportunities: list[int] = field(default_factory=list)
    first_opportunity: int | None = None


class DemoGenerator:
    """Generates and writes the demo data set; see the module docstring for the approach."""

    def __init__(self, *, accounts: int, seed: int = 42, chunk_size: int = CHUNK_SIZE,
                 progress: Callable[[str], None] | None = None) -> None:
        self.total_accounts = accounts
        self.seed = seed
        self.chunk_size = max(1, chunk_size)
        self.progress = progress
        self.rng = _FastRandom(seed)
        self.detail_share = (1.0 if accounts <= FULL_DETAIL_UP_TO
                             else max(MIN_DETAIL_SHARE, FULL_DETAIL_UP_TO / accounts))
        self.now = timezone.now().replace(microsecond=0)
        self.today = timezone.localdate()
        # Naive UTC for SQLite (what Django stores there), aware for PostgreSQL.
        self._naive_now = self.now.astimezone(dt.UTC).replace(tzinfo=None)
        aware = connection.features.supports_timezones
        self._ts: Callable[[dt.datetime], Any] = (
            (lambda d: d.replace(tzinfo=dt.UTC)) if aware else (lambda d: d)
        )
        self._history_start = self._naive_now - _HISTORY
        self._slot_seconds = _HISTORY.total_seconds() / accounts
        self._generated = 0
        self._numbers: dict[tuple[str, int], int] = {}
        self._territory_cache: dict[tuple[str, str, str], tuple[int | None, tuple[int, ...]]] = {}
        self._prepare_lookups()

    # --- Lookups ------------------------------------------------------------------------

    def _prepare_lookups(self) -> None:
        rng = self.rng
        self._city_cum = _cum(c[3] for c in data.CITIES)
        self._band_cum = _cum(w for _, w in data.HEADCOUNT_BANDS)
        self._form_cum = _cum(w for _, w in data.LEGAL_FORMS)
        self._first_slug = {n: _slug(n) for n in data.MALE_FIRST_NAMES + data.FEMALE_FIRST_NAMES}
        self._last_slug = {n: _slug(n) for n in data.LAST_NAMES}
        # SIREN i = 30,000,000 + (a·id + b) mod 60,000,000, then the Luhn digit: a bijection on
        # ids, so SIRENs are unique however many accounts, yet look random.
        while True:
            a = rng.randrange(1_000_003, _SIREN_SPAN, 2)
            if math.gcd(a, _SIREN_SPAN) == 1:
                break
        self._siren_a, self._siren_b = a, rng.randrange(_SIREN_SPAN)

    def _siren(self, account_id: int) -> str:
        base = 30_000_000 + (self._siren_a * account_id + self._siren_b) % _SIREN_SPAN
        value = siren_with_check_digit(f"{base:08d}")
        if value == _LA_POSTE_SIREN:
            value = siren_with_check_digit(f"{base + 1:08d}")
        return value

    def _territory(self, postcode: str, band: str, naf: str) -> tuple[int | None, tuple[int, ...]]:
        """(territory id, the users who may own its accounts), by the real assignment rules.

        Cached on the attributes the active rules look at, so the rules run a few thousand
        times however many accounts.
        """
        kinds = self._rule_kinds
        key = (postcode if TerritoryRule.Kind.POSTCODE_PREFIX in kinds else "",
               band if TerritoryRule.Kind.HEADCOUNT_BAND in kinds else "",
               naf if TerritoryRule.Kind.NAF_PREFIX in kinds else "")
        if key not in self._territory_cache:
            territory = match_territory(
                {"billing_postcode": postcode, "billing_country": "FR", "headcount_band": band,
                 "naf_code": naf},
                self.org.territories,
            )
            if territory is None:
                found: tuple[int | None, tuple[int, ...]] = (None, ())
            elif territory.pk in self.org.territory_info:
                found = (territory.pk, self.org.territory_info[territory.pk].rep_ids)
            else:  # a territory the demo did not create: its default owner, if any
                default = territory.default_owner_id
                found = (territory.pk, (default,) if default else ())
            self._territory_cache[key] = found
        return self._territory_cache[key]

    def _past(self, earliest: dt.datetime, latest: dt.datetime | None = None) -> dt.datetime:
        """A random moment between two naive UTC datetimes (default: now)."""
        latest = latest or self._naive_now
        span = int((latest - earliest).total_seconds())
        return earliest + dt.timedelta(seconds=self.rng.randrange(span)) if span > 1 else latest

    def _touched(self, created: dt.datetime) -> dt.datetime:
        """Last update: mostly within a month of creation, sometimes any time since."""
        if self.rng.random() < 0.8:
            return min(created + dt.timedelta(seconds=self.rng.randrange(30 * _DAY)),
                       self._naive_now)
        return self._past(created)

    def _prepare_numbers(self) -> None:
        """Read the last number of each document kind and year the load can issue.

        Same ``<prefix>-<year>-<sequence>`` scheme as the sales service, which continues after
        the demo's numbers. Read up front so that generating never queries the database.
        """
        for kind in NUMBER_PREFIX:
            for year in range(self._history_start.year, self.today.year + 1):
                prefix = f"{NUMBER_PREFIX[kind]}-{year}-"
                last = (SalesDocument.objects.filter(kind=kind, number__startswith=prefix)
                        .order_by("-number").values_list("number", flat=True).first())
                tail = last.rsplit("-", 1)[-1] if last else ""
                self._numbers[(kind, year)] = int(tail) if tail.isdigit() else 0

    def _number(self, kind: str, year: int) -> str:
        self._numbers[(kind, year)] += 1
        return f"{NUMBER_PREFIX[kind]}-{year}-{self._numbers[(kind, year)]:06d}"

    # Digits after the zone that stay in metropolitan France (0262, 059x, 0639, 069x… are
    # overseas numbers).
    def _phone(self, zone: str) -> str:
        rng = self.rng
        return f"+33{zone}{rng.choice('1234578')}{rng.randrange(1_000_000, 10_000_000)}"

    def _mobile(self) -> str:
        rng = self.rng
        return f"+33{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(1_000_000, 10_000_000)}"

    def _person(self) -> tuple[str, str, str, bool]:
        """(civility, first name, last name, female)."""
        rng = self.rng
        female = rng.random() < 0.45
        first = rng.choice(data.FEMALE_FIRST_NAMES if female else data.MALE_FIRST_NAMES)
        return ("Mme" if female else "M."), first, rng.choice(data.LAST_NAMES), female

    def _company_name(self, words: Sequence[str], postcode: str) -> str:
        return company_name(self.rng, words, postcode)

    def _street(self) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return f"{rng.randint(1, 40)} {rng.choice(data.BUSINESS_PARKS)}"
        number = str(rng.randint(1, 180)) + (" bis" if rng.random() < 0.05 else "")
        return f"{number} {rng.choice(data.STREETS)}"

    # --- Run ----------------------------------------------------------------------------

    def run(self) -> DemoResult:
        started = time.monotonic()
        fresh = not Account.objects.exists()
        with transaction.atomic():
            self.org = build_org(self.today)
        self.tables = {
            "accounts": _Table(Account), "contacts": _Table(Contact),
            "opportunities": _Table(Opportunity), "sales_documents": _Table(SalesDocument),
            "sales_document_lines": _Table(SalesDocumentLine), "cases": _Table(Case),
            "activities": _Table(Activity), "leads": _Table(Lead),
        }
        self._stage_cum = _cum((40, 25, 22, 13))
        self._open_stages = [self.org.stages[n] for n in
                             ("Qualification", "Découverte", "Proposition", "Négociation")]
        self._service_ids = (self.org.user_id("paul.nguyen"), self.org.user_id("emma.petit"))
        self._marketing_id = self.org.user_id("sarah.lambert")
        self._monthly_ids = {p.id for p in self.org.products if p.unit == "month"}
        self._rule_kinds = {r.kind for t in self.org.territories for r in t.rules.all()}
        self._prepare_numbers()
        counts = dict.fromkeys(self.tables, 0)
        background = self.total_accounts > self.chunk_size and \
            can_fork()
        chunks = _in_background(self._chunks) if background else self._chunks()
        # Into an empty database, skip the fsyncs of each chunk's WAL checkpoint (a quarter of
        # the time at a million accounts): a crash mid-load only means loading again. The end
        # restores the setting and makes everything durable.
        unsafe = {"synchronous": 0} if fresh else {}
        try:
            with sqlite_bulk_mode(), sqlite_pragmas(**unsafe):
                for chunk in chunks:
                    with transaction.atomic(), connection.cursor() as cursor:
                        for name, rows in chunk.items():
                            if rows:
                                cursor.executemany(self.tables[name].sql, rows)
                                counts[name] += len(rows)
                    if self.progress and self.total_accounts > self.chunk_size:
                        self.progress(f"{counts['accounts']:>10,} / {self.total_accounts:,} "
                                      f"accounts ({time.monotonic() - started:.0f} s)")
                self._finish()
        finally:
            if fresh and connection.vendor == "sqlite":
                self._sqlite_sync()
        return DemoResult(counts, time.monotonic() - started, self.org.created_usernames)

    def _sqlite_sync(self) -> None:
        """Checkpoint the WAL into the database file, synced (``synchronous`` is back on).

        SQLite syncs the files itself: opening the database file here to ``fsync`` it would
        drop every POSIX lock this process holds on it when the descriptor closes.
        """
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _finish(self) -> None:
        models_ = [t.model for t in self.tables.values()]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models_):
                cursor.execute(sql)
            if connection.vendor == "postgresql":
                for model in models_:
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
            elif connection.vendor == "sqlite":
                cursor.execute("PRAGMA optimize")

    def _chunks(self) -> Iterator[Chunk]:
        """Generate the accounts chunk by chunk; nothing here reads or writes the database."""
        done = 0
        while done < self.total_accounts:
            size = min(self.chunk_size, self.total_accounts - done)
            accounts: list[_Acc] = []
            for _ in range(size):
                accounts.append(self._account(accounts))
            leads = size // 2 if self.detail_share >= 1 else round(size * self.detail_share / 2)
            self._leads(max(1, leads), accounts)
            done += size
            yield {name: table.take() for name, table in self.tables.items()}

    # --- Accounts and contacts ----------------------------------------------------------

    def _account(self, chunk: list[_Acc]) -> _Acc:
        rng = self.rng
        table = self.tables["accounts"]
        account_id = table.new_id()
        city, postcode, zone, _ = rng.choices(data.CITIES, cum_weights=self._city_cum)[0]
        band = rng.choices(data.HEADCOUNT_BANDS, cum_weights=self._band_cum)[0][0]
        naf, words = rng.choice(data.NAF_CODES)
        parent = chunk[-1 - rng.randrange(len(chunk))] if chunk and rng.random() < 0.03 else None
        if parent is not None:
            name = f"{parent.name} {data.AREA_BY_DEPT.get(postcode[:2], 'France')}"
        else:
            name = self._company_name(words, postcode)
        form = rng.choices(data.LEGAL_FORMS, cum_weights=self._form_cum)[0][0]
        legal_name = f"{name} {form}"
        siren = self._siren(account_id)
        territory_id, owners = self._territory(postcode, band, naf)
        owner_id = rng.choice(owners) if owners else None
        p = rng.random()
        status = "prospect" if p < 0.55 else "customer" if p < 0.90 else "former"
        terms = ""
        if status != "prospect" or rng.random() < 0.1:
            terms = rng.choices(
                ("net_30", "net_45_eom", "eom_30", "net_60", "on_receipt", "prepaid"),
                cum_weights=(40, 65, 80, 90, 95, 100),
            )[0]
        normalized = normalize_name(legal_name)  # the legal form is dropped: fits the domain
        domain = f"{normalized.replace(' ', '-') or 'entreprise'}." \
                 f"{'fr' if rng.random() < 0.75 else 'com'}"
        # Ids follow creation order, as in a real database: each account is created in its own
        # slot of the four-year history (this also keeps index inserts on dates local).
        created = self._history_start + dt.timedelta(
            seconds=(self._generated + rng.random()) * self._slot_seconds)
        self._generated += 1
        updated = self._touched(created)
        street = self._street()
        shipping = rng.random() < 0.15
        row = {
            "id": account_id, "created_at": self._ts(created), "updated_at": self._ts(updated),
            "legal_name": legal_name, "trade_name": name if rng.random() < 0.7 else "",
            "normalized_name": normalized, "status": status, "siren": siren,
            "siret": siret_with_check_digit(siren, f"{rng.randint(1, 3):04d}"),
            "vat_number": f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}",
            "naf_code": naf, "billing_street": street, "billing_postcode": postcode,
            "billing_city": city, "billing_country": "FR",
            "shipping_street": self._street() if shipping else "",
            "shipping_postcode": postcode if shipping else "",
            "shipping_city": city if shipping else "", "shipping_country": "FR" if shipping else "",
            "phone": self._phone(zone) if rng.random() < 0.9 else "",
            "email": (f"{rng.choice(('contact', 'accueil', 'info', 'commercial'))}@{domain}"
                      if rng.random() < 0.8 else ""),
            "website": f"https://www.{domain}" if rng.random() < 0.85 else "",
            "headcount_band": band, "owner_id": owner_id,
            "territory_id": territory_id,
            "parent_id": parent.id if parent else None, "payment_terms": terms,
            "credit_limit": (Decimal(data.CREDIT_LIMIT_BY_BAND[band]) if status == "customer"
                             else None),
        }
        table.add(row)
        acc = _Acc(account_id, name, legal_name, owner_id, status, band in data.KEY_ACCOUNT_BANDS,
                   created, terms, postcode, city, zone, domain, [])
        self._contacts(acc)
        if self.detail_share >= 1 or rng.random() < self.detail_share:
            self._history(acc)
        return acc

    def _contacts(self, acc: _Acc) -> None:
        rng = self.rng
        table = self.tables["contacts"]
        count = 1 + (rng.random() >= 0.25) + (rng.random() >= 0.75)  # 1, 2 or 3: mean 2
        pattern = rng.randrange(4)
        used: set[str] = set()
        for _ in range(count):
            contact_id = table.new_id()
            civility, first, last, female = self._person()
            fs, ls = self._first_slug[first], self._last_slug[last]
            local = (f"{fs}.{ls}", f"{fs}.{ls}", f"{fs[0]}{ls}", f"{fs[0]}.{ls}")[pattern]
            while local in used:
                local += str(rng.randint(1, 9))
            used.add(local)
            email = f"{local}@{acc.domain}"
            job = rng.choice(data.JOB_TITLES)[female]
            phone = self._phone(acc.zone) if rng.random() < 0.6 else ""
            created = min(acc.created + dt.timedelta(seconds=rng.randrange(60 * _DAY)),
                          self._naive_now)
            c = rng.random()
            consent, consent_date, consent_source = "unknown", None, ""
            if c < 0.5:
                consent = "opt_in" if c < 0.38 else "opt_out"
                consent_date = self._ts(self._past(created))
                consent_source = rng.choice(data.CONSENT_SOURCES)
            table.add({
                "id": contact_id, "created_at": self._ts(created),
                "updated_at": self._ts(self._touched(created)), "account_id": acc.id,
                "civility": civility, "first_name": first, "last_name": last, "job_title": job,
                "email": email, "phone": phone,
                "mobile": self._mobile() if rng.random() < 0.55 else "",
                "marketing_consent": consent, "consent_date": consent_date,
                "consent_source": consent_source, "owner_id": acc.owner_id,
            })
            acc.contacts.append((contact_id, civility, first, last, email, job, phone))

    # --- History: opportunities, documents, activities, cases ---------------------------

    def _history(self, acc: _Acc) -> None:
        rng = self.rng
        outcomes: list[str] = []
        if acc.status == "customer":
            outcomes += ["won"] * rng.randint(1, 2) + ["open"] * rng.randint(0, 2)
            outcomes += ["lost"] * (rng.random() < 0.3)
        elif acc.status == "former":
            outcomes += ["won"] + ["lost"] * (rng.random() < 0.5)
        else:
            outcomes += ["open"] * rng.randint(0, 2) + ["lost"] * (rng.random() < 0.35)
        for outcome in outcomes:
            self._opportunity(acc, outcome)
        for _ in range(rng.randint(1, 6) + (acc.status == "customer") * 2):
            self._activity(acc)
        if acc.status != "prospect":
            for _ in range(rng.choices((0, 1, 2), cum_weights=(65, 90, 100))[0]):
                self._case(acc)

    def _opportunity(self, acc: _Acc, outcome: str) -> None:
        rng = self.rng
        table = self.tables["opportunities"]
        opp_id = table.new_id()
        contact = rng.choice(acc.contacts)
        now = self._naive_now
        if outcome == "open":
            stage = rng.choices(self._open_stages, cum_weights=self._stage_cum)[0]
            created = self._past(max(acc.created, now - dt.timedelta(days=200)))
            closed = None
            expected = self.today + dt.timedelta(days=rng.randint(5, 180))
        else:
            stage = self.org.stages["Gagné" if outcome == "won" else "Perdu"]
            latest = now - dt.timedelta(days=365) if acc.status == "former" else now
            created = self._past(acc.created, max(latest, acc.created + dt.timedelta(days=2)))
            closed = min(created + dt.timedelta(days=rng.randint(10, 120),
                                                seconds=rng.randrange(_DAY)), now)
            expected = closed.date()
        topic = rng.choice(data.OPPORTUNITY_TOPICS)
        amount = Decimal(rng.randrange(20, 600) * 100 * (3 if acc.key_account else 1))
        quote_stages = ("Proposition", "Négociation", "Gagné")
        if stage.name in quote_stages or (outcome == "lost" and rng.random() < 0.5):
            amount = self._deal_documents(acc, opp_id, contact[0], stage.name, outcome,
                                          created, closed)
        table.add({
            "id": opp_id, "created_at": self._ts(created),
            "updated_at": self._ts(closed or self._touched(created)),
            "name": f"{acc.name} – {topic}", "account_id": acc.id, "contact_id": contact[0],
            "pipeline_id": self.org.pipeline_id, "stage_id": stage.pk, "amount": amount,
            "probability": stage.probability, "expected_close_date": expected,
            "owner_id": acc.owner_id, "status": outcome,
            "closed_at": self._ts(closed) if closed else None,
            "lost_reason": rng.choice(data.LOST_REASONS) if outcome == "lost" else "",
        })
        if acc.first_opportunity is None:
            acc.first_opportunity = opp_id
        if outcome == "open":
            acc.open_opportunities.append(opp_id)

    def _pick_lines(self, acc: _Acc) -> list[SalesDocumentLine]:
        rng = self.rng
        price_list = (self.org.key_price_list_id if acc.key_account
                      else self.org.general_price_list_id)
        lines = []
        for product in rng.sample(self.org.products, rng.randint(1, 4)):
            low, high = data.QUANTITY_RANGE[product.unit]
            quantity = Decimal(rng.randint(low, high))
            discount = rng.choices((0, 5, 10), cum_weights=(70, 90, 100))[0]
            lines.append(SalesDocumentLine(
                product_id=product.id, description=product.name, quantity=quantity,
                unit_price=product.price(price_list, quantity),
                discount_percent=Decimal(discount), tax_rate=product.tax_rate,
            ))
        return lines

    def _document(self, acc: _Acc, kind: str, status: str, *, opportunity_id: int,
                  contact_id: int, issue: dt.date, lines: Sequence[SalesDocumentLine],
                  amount_due: str = "none", extra: dict[str, Any] | None = None) -> Decimal:
        """Write one document and its lines; ``amount_due``: none, open, paid or partial."""
        rng = self.rng
        table, line_table = self.tables["sales_documents"], self.tables["sales_document_lines"]
        doc_id = table.new_id()
        excl, tax, incl = compute_totals(lines)
        due = {"none": Decimal(0), "open": incl, "paid": Decimal(0),
               "partial": incl - money(incl * Decimal(rng.choice((30, 40, 50))) / 100)}[amount_due]
        stamp = dt.datetime.combine(issue, dt.time(rng.randint(7, 16), rng.randrange(60)))
        stamp = min(stamp, self._naive_now)
        table.add({
            "id": doc_id, "created_at": self._ts(stamp), "updated_at": self._ts(stamp),
            "kind": kind, "number": self._number(kind, issue.year), "account_id": acc.id,
            "contact_id": contact_id, "opportunity_id": opportunity_id,
            "price_list_id": (self.org.key_price_list_id if acc.key_account
                              else self.org.general_price_list_id),
            "status": status, "issue_date": issue, "total_excl_tax": excl, "total_tax": tax,
            "total_incl_tax": incl, "amount_due": due, "owner_id": acc.owner_id,
            **(extra or {}),
        })
        for position, line in enumerate(lines, start=1):
            line_table.add({
                "id": line_table.new_id(), "document_id": doc_id, "position": position,
                "product_id": line.product_id, "description": line.description,
                "quantity": line.quantity, "unit_price": line.unit_price,
                "discount_percent": line.discount_percent, "tax_rate": line.tax_rate,
                "total_excl_tax": line.total_excl_tax,
            })
        return excl

    def _deal_documents(self, acc: _Acc, opp_id: int, contact_id: int, stage: str,
                        outcome: str, created: dt.datetime, closed: dt.datetime | None
                        ) -> Decimal:
        """Quote, and for a won deal order, contract, invoice and maybe a credit note.

        Returns the quote's total excluding tax, which becomes the opportunity's amount.
        """
        rng = self.rng
        lines = self._pick_lines(acc)
        today = self.today
        quote_day = min((created + dt.timedelta(days=rng.randint(1, 10))).date(), today)
        quote_status = {"won": "accepted", "lost": "refused"}.get(
            outcome, "draft" if rng.random() < 0.2 else "sent")
        common: dict[str, Any] = {"opportunity_id": opp_id, "contact_id": contact_id}
        amount = self._document(acc, "quote", quote_status, issue=quote_day, lines=lines,
                                extra={"valid_until": quote_day + dt.timedelta(days=30)},
                                **common)
        if outcome != "won" or closed is None:
            return amount
        order_day = closed.date()
        self._document(acc, "order", "confirmed", issue=order_day, lines=lines, **common)
        monthly = [ln for ln in lines if ln.product_id in self._monthly_ids]
        if monthly:
            end = order_day + dt.timedelta(days=365)
            self._document(acc, "contract", "active" if end >= today else "cancelled",
                           issue=order_day, lines=monthly,
                           extra={"start_date": order_day, "end_date": end}, **common)
        invoice_day = min(order_day + dt.timedelta(days=rng.randint(0, 20)), today)
        due = due_date(invoice_day, acc.terms or "net_30")
        if due < today - dt.timedelta(days=30):
            state = rng.choices(("paid", "partial", "open"), cum_weights=(88, 94, 100))[0]
        else:
            state = rng.choices(("paid", "partial", "open"), cum_weights=(30, 40, 100))[0]
        self._document(acc, "invoice", "paid" if state == "paid" else "posted",
                       issue=invoice_day, lines=lines, amount_due=state,
                       extra={"due_date": due}, **common)
        if rng.random() < 0.08:
            returned = lines[0]
            credit_line = SalesDocumentLine(
                product_id=returned.product_id, description=f"Avoir : {returned.description}",
                quantity=max(Decimal(1), (returned.quantity / 4).quantize(Decimal(1))),
                unit_price=returned.unit_price, discount_percent=returned.discount_percent,
                tax_rate=returned.tax_rate,
            )
            credit_day = min(invoice_day + dt.timedelta(days=rng.randint(3, 40)), today)
            refunded = rng.random() < 0.6
            self._document(acc, "credit_note", "paid" if refunded else "posted",
                           issue=credit_day, lines=[credit_line],
                           amount_due="paid" if refunded else "open", **common)
        return amount

    def _activity(self, acc: _Acc, *, case_id: int | None = None, owner_id: int | None = None,
                  subject: str | None = None) -> None:
        rng = self.rng
        table = self.tables["activities"]
        kind = rng.choices(("call", "meeting", "task", "note", "email"),
                           cum_weights=(30, 50, 75, 90, 100))[0]
        contact = rng.choice(acc.contacts)
        subjects = {"call": data.CALL_SUBJECTS, "meeting": data.MEETING_SUBJECTS,
                    "task": data.TASK_SUBJECTS, "note": data.NOTE_SUBJECTS,
                    "email": data.EMAIL_SUBJECTS}[kind]
        title = subject or rng.choice(subjects)
        if kind in ("call", "meeting"):
            title = f"{title} – {contact[2]} {contact[3]}"
        future = kind in ("call", "meeting", "task") and rng.random() < 0.25
        if future:
            moment = self._naive_now + dt.timedelta(days=rng.randint(1, 30),
                                                    seconds=rng.randrange(8 * 3600))
            created = self._past(max(acc.created, self._naive_now - dt.timedelta(days=20)))
        else:
            moment = self._past(acc.created)
            created = moment
        start = end = due = None
        if kind == "meeting":
            start, end = moment, moment + dt.timedelta(minutes=rng.choice((30, 60, 90, 120)))
        elif kind == "call":
            start, end = moment, moment + dt.timedelta(minutes=rng.randint(3, 40))
        elif kind == "task":
            due = moment
        done = not future and (kind != "task" or rng.random() < 0.85)
        body = ""
        if kind in ("note", "call", "meeting") and not future:
            body = (f"Échange avec {contact[1]} {contact[3]} ({contact[5]}). "
                    f"{rng.choice(('Intéressé', 'À relancer', 'Budget validé', 'En attente'))}.")
        table.add({
            "id": table.new_id(), "created_at": self._ts(created),
            "updated_at": self._ts(moment if done else created),
            "kind": kind, "subject": title, "body": body,
            "due_at": self._ts(due) if due else None,
            "start_at": self._ts(start) if start else None,
            "end_at": self._ts(end) if end else None,
            "done": done, "done_at": self._ts(end or moment) if done else None,
            "account_id": acc.id, "contact_id": contact[0],
            "opportunity_id": (rng.choice(acc.open_opportunities)
                               if acc.open_opportunities and case_id is None
                               and rng.random() < 0.4 else None),
            "case_id": case_id, "owner_id": owner_id or acc.owner_id,
        })

    def _case(self, acc: _Acc) -> None:
        rng = self.rng
        table = self.tables["cases"]
        case_id = table.new_id()
        kind = rng.choices(("complaint", "support", "question"), cum_weights=(30, 75, 100))[0]
        subject = rng.choice(data.CASE_SUBJECTS[kind])
        created = self._past(acc.created)
        recent = created > self._naive_now - dt.timedelta(days=30)
        status = (rng.choice(("new", "open", "waiting", "resolved")) if recent
                  else rng.choices(("resolved", "closed", "open"), cum_weights=(30, 95, 100))[0])
        closed = (self._past(created, min(created + dt.timedelta(days=20), self._naive_now))
                  if status in ("resolved", "closed") else None)
        owner = rng.choice(self._service_ids)
        contact = rng.choice(acc.contacts)
        table.add({
            "id": case_id, "created_at": self._ts(created),
            "updated_at": self._ts(closed or created), "number": f"CAS-{case_id:06d}",
            "account_id": acc.id, "contact_id": contact[0], "kind": kind, "subject": subject,
            "description": f"Signalé par {contact[1]} {contact[3]} : {subject.lower()}.",
            "status": status,
            "priority": rng.choices(("low", "normal", "high", "urgent"),
                                    cum_weights=(15, 70, 92, 100))[0],
            "owner_id": owner, "closed_at": self._ts(closed) if closed else None,
        })
        self._activity(acc, case_id=case_id, owner_id=owner, subject=f"Suivi {subject.lower()}")

    # --- Leads ----------------------------------------------------------------------------

    def _leads(self, count: int, accounts: list[_Acc]) -> None:
        rng = self.rng
        table = self.tables["leads"]
        sources = [s for s, _ in Lead.Source.choices]
        for n in range(count):
            lead_id = table.new_id()
            source = sources[n] if n < len(sources) else rng.choice(sources)
            status = rng.choices(("new", "working", "qualified", "disqualified", "converted"),
                                 cum_weights=(35, 60, 75, 90, 100))[0]
            score = {"new": (0, 40), "working": (20, 70), "qualified": (60, 100),
                     "disqualified": (0, 30), "converted": (70, 100)}[status]
            created = self._past(self._naive_now - dt.timedelta(days=540))
            row: dict[str, Any] = {
                "id": lead_id, "created_at": self._ts(created),
                "updated_at": self._ts(self._touched(created)), "source": source,
                "status": status, "score": rng.randint(*score), "country": "FR",
                "description": data.LEAD_DESCRIPTIONS[source],
            }
            acc = rng.choice(accounts) if accounts else None
            if status == "converted" and acc is not None:
                contact = acc.contacts[0]
                row.update({
                    "company_name": acc.legal_name, "civility": contact[1],
                    "first_name": contact[2], "last_name": contact[3], "job_title": contact[5],
                    "email": contact[4], "phone": contact[6], "postcode": acc.postcode,
                    "city": acc.city, "owner_id": acc.owner_id,
                    "converted_at": self._ts(max(acc.created, created)),
                    "converted_account_id": acc.id, "converted_contact_id": contact[0],
                    "converted_opportunity_id": acc.first_opportunity,
                })
                table.add(row)
                continue
            if status == "converted":
                row["status"] = "qualified"
            self._lead_details(row, source, status, acc)
            table.add(row)

    def _lead_details(self, row: dict[str, Any], source: str, status: str,
                      acc: _Acc | None) -> None:
        """A new company (or, one time in ten, an existing customer: a duplicate to catch)."""
        rng = self.rng
        city, postcode, zone, _ = rng.choices(data.CITIES, cum_weights=self._city_cum)[0]
        if acc is not None and rng.random() < 0.1:
            company, domain = acc.legal_name, acc.domain
            city, postcode, zone = acc.city, acc.postcode, acc.zone
        else:
            naf_words = rng.choice(data.NAF_CODES)[1]
            name = self._company_name(naf_words, postcode)
            company = f"{name} {rng.choices(data.LEGAL_FORMS, cum_weights=self._form_cum)[0][0]}"
            domain = f"{_domain_label(name)}.fr"
        civility, first, last, female = self._person()
        fs, ls = self._first_slug[first], self._last_slug[last]
        email = (f"{fs}.{ls}@{domain}" if rng.random() < 0.7
                 else f"{fs}.{ls}{rng.randint(1, 99)}@{rng.choice(data.FREE_MAIL_DOMAINS)}")
        rep_ids = self._territory(postcode, "NN", "")[1] or self.org.rep_ids
        owner = None
        if status in ("working", "qualified"):
            owner = rng.choice(rep_ids)
        elif status == "disqualified":
            owner = self._marketing_id
        elif rng.random() < 0.4:
            owner = rng.choice(rep_ids)
        row["owner_id"] = owner
        if source == "web_visit":  # only what the tracking cookie and a form field told us
            row["email"] = email
            return
        if source == "purchased_list":
            row.update({"company_name": company, "siren": self._siren(50_000_000 + row["id"]),
                        "phone": self._phone(zone), "street": self._street(),
                        "postcode": postcode, "city": city, "website": f"https://www.{domain}"})
            return
        row.update({"company_name": company, "civility": civility, "first_name": first,
                    "last_name": last, "email": email, "postcode": postcode, "city": city})
        if source in ("web_form", "trade_show", "partner_portal", "referral", "other"):
            row["job_title"] = rng.choice(data.JOB_TITLES)[female]
            row["phone"] = self._mobile() if rng.random() < 0.5 else self._phone(zone)


def load_demo(*, accounts: int, seed: int = 42, chunk_size: int = CHUNK_SIZE,
              progress: Callable[[str], None] | None = None) -> DemoResult:
    """Load the demo data set (see the module docstring): the one entry point."""
    return DemoGenerator(accounts=accounts, seed=seed, chunk_size=chunk_size,
                         progress=progress).run()

