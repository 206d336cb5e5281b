"""The ``tryton`` connector: a Tryton 8 ERP read over JSON-RPC, incrementally.

Streams:

* ``parties`` — ``party.party`` with everything it carries: all its addresses (billing,
  delivery, other), contact mechanisms and identifiers as lists, the first of each kind also
  flat (SIREN/SIRET/VAT, billing and delivery address, e-mail, phone, mobile, fax, website),
  and ``active``. The company's own party is left out: it is never a customer. Tryton does
  not touch a party's ``write_date`` when an address, a contact mechanism or an identifier
  changes, so those models are polled too and their changes bring their party back.
* ``contacts`` — the people of a party: its contact mechanisms that carry a name, grouped.
* ``products`` — ``product.product`` with its template's name, unit and list price.
* ``price_lists`` — one record standing for the templates' list prices, so a mapping can make
  the CRM price list that ``products`` fills.
* ``sales`` — ``sale.sale`` (quotations and orders) with their lines, amounts and VAT rates.
* ``invoices`` — customer invoices and credit notes (``account.invoice`` of type ``out``) with
  their lines, what is left to pay and the first due date.

Sales and invoices are keyed by Tryton references (``sale.sale,12``, ``account.invoice,7``):
both become sales documents, and their deletion passes must not see each other's records.

The cursor is ``<change time>|<id>``: records come in that order, so a run stopped anywhere
resumes right after the last committed record, and records changed in the same second are not
skipped. A record's change time is the latest of its own and its children's (addresses, contact
mechanisms, identifiers, lines), on the first run too, so the next run does not read again the
records whose children were written just after them. Deletions: ``existing_keys`` lists the
ids Tryton still has (deactivated ones included), the missing ones become tombstones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import weakref
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.engine.core import Connector, Parameter, Record, Stream, register

ALL = {"active_test": False}  # deactivated records too: they are data, not deletions
PAGE = 500
EPOCH = dt.datetime(1970, 1, 1)


def _changed(row: Mapping[str, Any]) -> dt.datetime:
    """When a record last changed: ``write_date`` is empty until its first modification."""
    value = row.get("write_date") or row.get("create_date") or EPOCH
    return value if isinstance(value, dt.datetime) else EPOCH


def encode_cursor(moment: dt.datetime, record_id: int) -> str:
    return f"{moment.isoformat()}|{record_id}"


CENSUS_BUCKETS = 128  # a deleted child makes 1/128 of the records be read again
CENSUS_BYTES = 4


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if not cursor:
        return None
    try:
        moment, _sep, record_id = cursor.rpartition("|")
        return dt.datetime.fromisoformat(moment), int(record_id)
    except ValueError:
        return None  # not ours: read everything again (content hashes skip the unchanged)


def _since(moment: dt.datetime) -> list[Any]:
    return ["OR", [["write_date", ">=", moment]], [["create_date", ">=", moment]]]


class _TrytonStream(Stream):
    model = ""
    fields: ClassVar[list[str]] = []
    domain: ClassVar[list[Any]] = []  # the main records this stream reads (customer invoices)
    # (model, field pointing to the main record, its own domain): children whose changes
    # bring their main record back
    children: ClassVar[list[tuple[str, str, list[Any]]]] = []

    def __init__(self, client: TrytonClient, name: str) -> None:
        self.client = client
        self.name = name

    def key_of(self, record_id: int) -> str:
        return f"{self.key_prefix}{record_id}"

    def _changed_ids(self, since: dt.datetime | None) -> dict[int, dt.datetime]:
        """Ids of the main records changed since ``since`` (with their children), and when."""
        found: dict[int, dt.datetime] = {}
        domain = list(self.domain) + ([] if since is None else [_since(since)])
        for row in self.client.iter_search_read(self.model, domain,
                                                ["write_date", "create_date"], page=5000,
                                                context=ALL):
            found[row["id"]] = _changed(row)
        # A record's change time is its children's latest too, on the first run as well:
        # otherwise the cursor stops at the parent and the next run reads again every
        # record whose addresses or lines were written just after it.
        for model, parent, child_domain in self.children:
            child_since = [] if since is None else [_since(since)]
            for row in self.client.iter_search_read(model, [*child_domain, *child_since],
                                                    [parent, "write_date", "create_date"],
                                                    page=5000, context=ALL):
                owner = row.get(parent)
                if owner is None or (since is None and owner not in found):
                    continue  # a child of a record this stream does not read
                moment = _changed(row)
                if moment > found.get(owner, EPOCH):
                    found[owner] = moment
        return found

    def _census(self) -> str | None:
        """A digest per bucket of main records (by id) of every (child model, child id) they
        have: Tryton keeps no trace of a deleted address or line, so a bucket whose digest
        moved since the last run has its records read again. None without children."""
        if not self.children:
            return None
        pairs: list[tuple[int, int, int]] = []
        for n, (model, parent, child_domain) in enumerate(self.children):
            for row in self.client.iter_search_read(model, list(child_domain), [parent],
                                                    page=5000, order=[["id", "ASC"]],
                                                    context=ALL):
                if row.get(parent) is not None:
                    pairs.append((row[parent], n, row["id"]))
        pairs.sort()
        digests = [hashlib.blake2b(digest_size=CENSUS_BYTES) for _ in range(CENSUS_BUCKETS)]
        for owner, n, child in pairs:
            digests[owner % CENSUS_BUCKETS].update(f"{owner}:{n}:{child};".encode())
        return "".join(d.hexdigest() for d in digests)

    def _pending(self, cursor: str | None) -> list[tuple[int, dt.datetime, str]]:
        """(id, change time, cursor) of the records after ``cursor``, in cursor order.

        A cursor is ``<time>|<id>`` and, for a stream with children, ``#<census>``. Records
        of the census buckets that moved (a child deleted) come first, at the old position
        and with the old census, so a run stopped among them does them again; the records
        after them carry the new census."""
        base, _sep, old = (cursor or "").partition("#")
        at = decode_cursor(base)
        changed = self._changed_ids(at[0] if at else None)
        order = sorted(changed.items(), key=lambda item: (item[1], item[0]))
        census = self._census()
        forced: list[int] = []
        if at is not None:
            order = [(i, m) for i, m in order if (m, i) > (at[0], at[1])]
            width = 2 * CENSUS_BYTES
            if census is not None and len(old) == len(census) and old != census:
                moved = {n for n in range(CENSUS_BUCKETS)
                         if old[n * width:(n + 1) * width] != census[n * width:(n + 1) * width]}
                later = {i for i, _m in order}
                forced = [i for i in self._all_ids()
                          if i % CENSUS_BUCKETS in moved and i not in later]
        tail = f"#{census}" if census is not None else ""
        out: list[tuple[int, dt.datetime, str]] = []
        if forced and at is not None:
            before = f"{base}#{old}"
            out = [(i, at[0], before) for i in forced]
            if not order:  # the last one records the new census
                out[-1] = (forced[-1], at[0], f"{base}{tail}")
        out += [(i, m, encode_cursor(m, i) + tail) for i, m in order]
        return out

    def read(self, cursor: str | None) -> Iterator[Record]:
        order = self._pending(cursor)
        for start in range(0, len(order), PAGE):
            page = order[start:start + PAGE]
            rows = {row["id"]: row for row in self.client.read(
                self.model, [i for i, _m, _c in page], self.fields, context=ALL)}
            extra = self.details(list(rows))
            for record_id, _moment, position in page:
                row = rows.get(record_id)
                if row is None:  # deleted between the two calls: the tombstone pass sees it
                    continue
                yield Record(key=self.key_of(record_id), data=self.flatten(row, extra),
                             cursor=position, position=f"{self.model} {record_id}")

    def details(self, ids: list[int]) -> dict[str, Any]:
        return {}

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        return row

    def existing_keys(self) -> Iterable[str] | None:
        return [self.key_of(i) for i in self._all_ids()]

    def _all_ids(self) -> Iterator[int]:
        last = 0
        while True:
            ids = self.client.search(self.model, [*self.domain, ["id", ">", last]], 0, 10_000,
                                     [["id", "ASC"]], context=ALL)
            yield from ids
            if len(ids) < 10_000:
                return
            last = ids[-1]


def _compact(code: Any) -> str:
    return "".join(ch for ch in str(code or "") if ch.isalnum()).upper()


def own_parties(client: TrytonClient) -> set[int]:
    """The parties of the ERP's own companies (``company.company``): never customers. Read
    once per client (a run)."""
    cached = _OWN_PARTIES.get(client)
    if cached is None:
        cached = _OWN_PARTIES[client] = {row["party"] for row in client.search_read(
            "company.company", [], ["party"], context=ALL) if row.get("party")}
    return cached


_OWN_PARTIES: weakref.WeakKeyDictionary[TrytonClient, set[int]] = weakref.WeakKeyDictionary()


def _one_line(text: Any) -> str:
    return ", ".join(p.strip() for p in str(text or "").splitlines() if p.strip())


def _first(rows: list[dict[str, Any]], kind: str) -> str:
    return next((r["value"] for r in rows if r["kind"] == kind and r["value"]), "")


class PartiesStream(_TrytonStream):
    """Parties with everything they carry: every address (its kind from Tryton's invoice and
    delivery flags), every contact mechanism, every identifier with its type, and ``active``.
    The first invoice address and the first delivery address, the first e-mail, phone,
    mobile, fax and website, and SIREN/SIRET/VAT are also given flat. The company's own
    party is not a customer: it is left out (and so becomes a tombstone if it was read)."""

    model = "party.party"
    fields: ClassVar[list[str]] = ["name", "code", "active", "write_date", "create_date"]
    children: ClassVar[list[tuple[str, str, list[Any]]]] = [
        ("party.address", "party", []), ("party.contact_mechanism", "party", []),
        ("party.identifier", "party", [])]
    _address_flags: list[str] | None = None

    def _changed_ids(self, since: dt.datetime | None) -> dict[int, dt.datetime]:
        found = super()._changed_ids(since)
        for party in own_parties(self.client):
            found.pop(party, None)
        return found

    def _all_ids(self) -> Iterator[int]:
        own = own_parties(self.client)
        return (i for i in super()._all_ids() if i not in own)

    def _flags(self) -> list[str]:
        """Tryton's address kinds: ``invoice`` (account_invoice) and ``delivery`` (stock) exist
        only with their modules."""
        if self._address_flags is None:
            known = self.client.model_call("party.address", "fields_get",
                                           ["invoice", "delivery"], context={})
            self._address_flags = [f for f in ("invoice", "delivery") if f in (known or {})]
        return self._address_flags

    def details(self, ids: list[int]) -> dict[str, Any]:
        domain = [["party", "in", ids]]
        flags = self._flags()
        addresses: dict[int, list[dict[str, Any]]] = {}
        for row in self.client.search_read(
                "party.address", domain,
                ["party", "party_name", "street", "postal_code", "city", "country.code",
                 *flags],
                order=[["sequence", "ASC"], ["id", "ASC"]], context={}):
            country = row.get("country.") or {}
            kind = ("billing" if row.get("invoice") else
                    "delivery" if row.get("delivery") else "other")
            addresses.setdefault(row["party"], []).append({
                "id": row["id"], "kind": kind, "name": row.get("party_name") or "",
                "street": row.get("street") or "", "postcode": row.get("postal_code") or "",
                "city": row.get("city") or "",
                "country": (country.get("code") if isinstance(country, dict) else "") or ""})
        mechanisms: dict[int, list[dict[str, Any]]] = {}
        for row in self.client.search_read(
                "party.contact_mechanism", domain, ["party", "type", "value", "name"],
                order=[["sequence", "ASC"], ["id", "ASC"]], context={}):
            mechanisms.setdefault(row["party"], []).append({
                "kind": row["type"] if row["type"] in CHANNEL_KINDS else "other",
                "value": row.get("value") or "", "name": (row.get("name") or "").strip()})
        identifiers: dict[int, list[dict[str, Any]]] = {}
        for row in self.client.search_read("party.identifier", domain,
                                           ["party", "type", "code"],
                                           order=[["sequence", "ASC"], ["id", "ASC"]],
                                           context={}):
            identifiers.setdefault(row["party"], []).append(
                {"type": row.get("type") or "", "value": row.get("code") or ""})
        return {"addresses": addresses, "mechanisms": mechanisms, "identifiers": identifiers}

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        party = row["id"]
        addresses = extra["addresses"].get(party) or []
        billing = next((a for a in addresses if a["kind"] == "billing"),
                       addresses[0] if addresses else {})
        delivery: dict[str, Any] = next((a for a in addresses if a["kind"] == "delivery"), {})
        channels = extra["mechanisms"].get(party) or []
        # a party's own means first; a person's (named, see ContactsStream) only as fallback
        own = [c for c in channels if not c["name"]] + [c for c in channels if c["name"]]
        identifiers = extra["identifiers"].get(party) or []
        codes: dict[str, str] = {}
        for identifier in identifiers:
            codes.setdefault(identifier["type"], _compact(identifier["value"]))
        return {
            "id": party, "name": row.get("name") or "", "code": row.get("code") or "",
            "active": bool(row.get("active", True)),
            "siren": codes.get("fr_siren") or (codes.get("fr_siret") or "")[:9],
            "siret": codes.get("fr_siret") or "",
            "vat": codes.get("eu_vat") or codes.get("fr_vat") or "",
            "street": _one_line(billing.get("street")),
            "postal_code": billing.get("postcode") or "", "city": billing.get("city") or "",
            "country": billing.get("country") or "",
            "delivery_street": _one_line(delivery.get("street")),
            "delivery_postal_code": delivery.get("postcode") or "",
            "delivery_city": delivery.get("city") or "",
            "delivery_country": delivery.get("country") or "",
            "email": _first(own, "email"), "phone": _first(own, "phone"),
            "mobile": _first(own, "mobile"), "fax": _first(own, "fax"),
            "website": _first(own, "website"),
            "addresses": [{k: v for k, v in a.items() if k != "id"} for a in addresses],
            "channels": [c for c in channels if not c["name"]],
            "identifiers": identifiers,
        }


CHANNEL_KINDS = frozenset({"email", "phone", "mobile", "fax", "website"})


class ProductsStream(_TrytonStream):
    model = "product.product"
    fields: ClassVar[list[str]] = [
        "code", "active", "write_date", "create_date", "template.name",
        "template.list_price", "template.default_uom.name", "template.type"]

    def _changed_ids(self, since: dt.datetime | None) -> dict[int, dt.datetime]:
        """A product's name, unit and list price are its template's: a changed template
        brings its products back."""
        found = super()._changed_ids(since)
        if since is None:
            return found
        templates = {row["id"]: _changed(row) for row in self.client.iter_search_read(
            "product.template", [_since(since)], ["write_date", "create_date"], page=5000,
            context=ALL)}
        if templates:
            for row in self.client.iter_search_read(
                    self.model, [["template", "in", list(templates)]], ["template"],
                    page=5000, context=ALL):
                moment = templates[row["template"]]
                if moment > found.get(row["id"], EPOCH):
                    found[row["id"]] = moment
        return found

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        template = row.get("template.") or {}
        uom = template.get("default_uom.") or {}
        return {
            "id": row["id"], "code": row.get("code") or "", "name": template.get("name") or "",
            "active": bool(row.get("active", True)), "list_price": template.get("list_price"),
            "unit": uom.get("name") or "", "type": template.get("type") or "",
        }


class ContactsStream(_TrytonStream):
    """The people of a party: its contact mechanisms carrying a name (Tryton's way of saying
    "Claire Martin, claire@…, 06…"), one contact per party and name whatever the number of
    mechanisms. A contact is keyed by its oldest mechanism; removing that one re-keys it (the
    old key becomes a tombstone)."""

    model = "party.contact_mechanism"
    key_prefix = "party.contact_mechanism,"
    domain: ClassVar[list[Any]] = [["name", "!=", None], ["name", "!=", ""]]

    def _groups(self, party_ids: list[int]) -> dict[tuple[int, str], list[dict[str, Any]]]:
        groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for row in self.client.search_read(
                self.model, [*self.domain, ["party", "in", party_ids]],
                ["party", "name", "type", "value"], order=[["id", "ASC"]], context={}):
            name = " ".join(str(row["name"]).split())
            groups.setdefault((row["party"], name.casefold()), []).append(row)
        return groups

    def read(self, cursor: str | None) -> Iterator[Record]:
        order = self._pending(cursor)
        done: set[tuple[int, str]] = set()
        for start in range(0, len(order), PAGE):
            page = order[start:start + PAGE]
            owners = {row["id"]: row for row in self.client.read(
                self.model, [i for i, _m, _c in page], ["party", "name"], context={})}
            groups = self._groups(sorted({r["party"] for r in owners.values()}))
            own = own_parties(self.client)
            for record_id, _moment, position in page:
                row = owners.get(record_id)
                if row is None or not (row.get("name") or "").strip() or row["party"] in own:
                    continue  # deleted since, or its name removed: the deletion pass sees it
                group = (row["party"], " ".join(str(row["name"]).split()).casefold())
                if group in done or group not in groups:
                    continue
                done.add(group)
                mechanisms = groups[group]
                name = " ".join(str(mechanisms[0]["name"]).split())
                first, _sep, last = name.partition(" ")
                values: dict[str, str] = {}
                for mechanism in mechanisms:
                    values.setdefault(mechanism["type"], mechanism["value"] or "")
                key_id = mechanisms[0]["id"]
                yield Record(key=self.key_of(key_id), data={
                    "id": key_id, "party": row["party"], "name": name,
                    "first_name": first if last else "", "last_name": last or first,
                    "email": values.get("email", ""), "phone": values.get("phone", ""),
                    "mobile": values.get("mobile", "")},
                    cursor=position,
                    position=f"{self.model} {record_id}")

    def existing_keys(self) -> Iterable[str] | None:
        keys: set[str] = set()
        seen: set[tuple[int, str]] = set()
        own = own_parties(self.client)
        # the active mechanisms, as ``read`` groups them: a deactivated first mechanism must
        # not give the contact another key here (it would be a tombstone on every run)
        for row in self.client.iter_search_read(self.model, list(self.domain),
                                                ["party", "name"], page=5000,
                                                order=[["id", "ASC"]], context={}):
            if row["party"] in own:
                continue
            group = (row["party"], " ".join(str(row["name"]).split()).casefold())
            if group not in seen:
                seen.add(group)
                keys.add(self.key_of(row["id"]))
        return keys


class PriceListsStream(Stream):
    """Tryton's own price list: the list prices of the product templates (``products``
    carries each price). One record, so a mapping can create the CRM price list they fill."""

    key = "list_price"

    def __init__(self, client: TrytonClient, name: str) -> None:
        self.client, self.name = client, name

    def read(self, cursor: str | None) -> Iterator[Record]:
        companies = self.client.search_read("company.company", [], ["currency.code"],
                                            0, 1, [["id", "ASC"]], context={})
        currency = ((companies[0].get("currency.") or {}).get("code") if companies else None)
        position = f"{self.key}:{currency or 'EUR'}"
        if cursor == position:  # read already, and the company's currency is the same
            return
        yield Record(key=self.key, data={"id": self.key, "currency": currency or "EUR"},
                     cursor=position, position="product list prices")

    def existing_keys(self) -> Iterable[str] | None:
        return [self.key]


class _DocumentStream(_TrytonStream):
    """A commercial document with its lines (``type = 'line'`` ones: titles, comments and
    subtotals carry no amount) flattened into one record; the lines' changes bring it back.

    Each line gets its VAT rate in percent from its taxes (the percentage ones added up).
    A line removed from a document whose other data did not change is seen by the census of
    the cursor (Tryton keeps no trace of deleted lines): its document is read again.
    """

    line_model = ""
    line_parent = ""
    line_fields: ClassVar[list[str]] = ["type", "product", "description", "quantity",
                                        "unit_price", "taxes", "sequence"]

    def __init__(self, client: TrytonClient, name: str) -> None:
        super().__init__(client, name)
        self._rates: dict[int, Decimal] | None = None

    def _tax_rates(self) -> dict[int, Decimal]:
        if self._rates is None:
            self._rates = {row["id"]: Decimal(str(row["rate"] or 0)) * 100
                           for row in self.client.search_read(
                               "account.tax", [["type", "=", "percentage"]], ["rate"],
                               context=ALL)}
        return self._rates

    def details(self, ids: list[int]) -> dict[str, Any]:
        rates = self._tax_rates()
        lines: dict[int, list[dict[str, Any]]] = {}
        for row in self.client.search_read(
                self.line_model, [[self.line_parent, "in", ids]],
                [self.line_parent, *self.line_fields],
                order=[["sequence", "ASC"], ["id", "ASC"]], context={}):
            if row.get("type", "line") != "line":
                continue
            rate = sum((rates.get(t, Decimal(0)) for t in row.get("taxes") or []), Decimal(0))
            lines.setdefault(row[self.line_parent], []).append({
                "id": row["id"], "product": row.get("product"),
                "description": row.get("description") or "",
                "quantity": row.get("quantity"), "unit_price": row.get("unit_price"),
                "tax_rate": rate.normalize() if rate else Decimal(0),
            })
        return {"lines": lines}


class SalesStream(_DocumentStream):
    """``sale.sale``: quotations and orders. Keys are Tryton references (``sale.sale,12``)
    because invoices become sales documents too."""

    model = "sale.sale"
    key_prefix = "sale.sale,"
    fields: ClassVar[list[str]] = [
        "number", "reference", "description", "state", "sale_date", "quotation_date",
        "party", "currency.code", "untaxed_amount", "tax_amount", "total_amount",
        "write_date", "create_date"]
    children: ClassVar[list[tuple[str, str, list[Any]]]] = [("sale.line", "sale", [])]
    line_model, line_parent = "sale.line", "sale"

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"], "number": row.get("number") or "", "draft_ref": f"#{row['id']}",
            "reference": row.get("reference") or "", "description": row.get("description") or "",
            "state": row.get("state") or "", "sale_date": row.get("sale_date"),
            "quotation_date": row.get("quotation_date"), "party": row.get("party"),
            "currency": (row.get("currency.") or {}).get("code") or "",
            "untaxed_amount": row.get("untaxed_amount"), "tax_amount": row.get("tax_amount"),
            "total_amount": row.get("total_amount"),
            "lines": extra["lines"].get(row["id"], []),
        }


class InvoicesStream(_DocumentStream):
    """Customer invoices and credit notes (``account.invoice`` of type ``out``), with what is
    left to pay and the first due date. ``sequence_type`` tells a credit note from an invoice
    the way Tryton numbers them (negative total, no positive line)."""

    model = "account.invoice"
    key_prefix = "account.invoice,"
    domain: ClassVar[list[Any]] = [["type", "=", "out"]]
    fields: ClassVar[list[str]] = [
        "number", "reference", "description", "state", "invoice_date", "party",
        "currency.code", "untaxed_amount", "tax_amount", "total_amount", "amount_to_pay",
        "sequence_type_cache", "payment_term_date", "lines_to_pay.maturity_date",
        "write_date", "create_date"]
    children: ClassVar[list[tuple[str, str, list[Any]]]] = [
        ("account.invoice.line", "invoice", [["invoice.type", "=", "out"]])]
    line_model, line_parent = "account.invoice.line", "invoice"

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        lines = extra["lines"].get(row["id"], [])
        total = row.get("total_amount") or Decimal(0)
        kind = row.get("sequence_type_cache") or (
            "credit_note" if total < 0 and all(
                Decimal(str(ln["quantity"] or 0)) * (ln["unit_price"] or 0) <= 0
                for ln in lines) else "invoice")
        maturities = [m["maturity_date"] for m in row.get("lines_to_pay.") or []
                      if m.get("maturity_date")]
        return {
            "id": row["id"], "number": row.get("number") or "", "draft_ref": f"#{row['id']}",
            "reference": row.get("reference") or "", "description": row.get("description") or "",
            "state": row.get("state") or "", "invoice_date": row.get("invoice_date"),
            "due_date": min(maturities) if maturities else row.get("payment_term_date"),
            "party": row.get("party"), "sequence_type": kind,
            "currency": (row.get("currency.") or {}).get("code") or "",
            "untaxed_amount": row.get("untaxed_amount"), "tax_amount": row.get("tax_amount"),
            "total_amount": total, "amount_to_pay": row.get("amount_to_pay"), "lines": lines,
        }


@register
class TrytonConnector(Connector):
    name = "tryton"
    label = "Tryton ERP (JSON-RPC)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "url": Parameter("Server URL", kind="url", help="e.g. http://erp.example.com:8000"),
        "database": Parameter("Database"),
        "username": Parameter("User", help="A dedicated Tryton user: read access, and the "
                              "right to create parties when Comptoir sends new customers."),
        "password": Parameter("Password", kind="secret"),
        "timeout": Parameter("Timeout (s)", required=False, default=30, kind="int"),
    }
    sensitive_parameters = frozenset({"password"})
    stream_classes: ClassVar[dict[str, type[Stream]]] = {
        "parties": PartiesStream, "contacts": ContactsStream, "products": ProductsStream,
        "price_lists": PriceListsStream,
        "sales": SalesStream, "invoices": InvoicesStream}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.client = TrytonClient(str(self.params["url"]), str(self.params["database"]),
                                   str(self.params["username"]), str(self.params["password"]),
                                   timeout=float(self.params["timeout"] or 30))

    def check(self) -> None:
        self.client.login()

    def streams(self) -> dict[str, Stream]:
        return {name: cls(self.client, name)  # type: ignore[call-arg]
                for name, cls in self.stream_classes.items()}

    def close(self) -> None:
        self.client.close()

    def stats(self) -> dict[str, float]:
        return self.client.stats()

    def push_account(self, account: Mapping[str, Any]) -> tuple[int, bool]:
        """Create the account as a party in Tryton; return ``(party id, created)`` (I5).

        An existing party with the same SIREN, or failing that the same name, is reused: a
        retry after a crash between Tryton's answer and our commit must not create it twice,
        and the ERP may already know the company. ``created`` is False then, so the caller
        can tell a party it just made from one that may already be another account's.
        """
        siren = _compact(account.get("siren"))
        if siren:
            found = self.client.search_read("party.identifier",
                                            [["type", "=", "fr_siren"]], ["party", "code"],
                                            context=ALL)
            for row in found:
                if _compact(row["code"]) == siren:
                    return int(row["party"]), False
        same_name = self.client.search("party.party", [["name", "=", account["legal_name"]]],
                                       0, 1, context=ALL)
        if same_name:
            return int(same_name[0]), False
        values: dict[str, Any] = {"name": account["legal_name"]}
        country = account.get("billing_country") or "FR"
        countries = self.client.search("country.country", [["code", "=", country]], 0, 1)
        address: dict[str, Any] = {"street": account.get("billing_street") or "",
                                   "postal_code": account.get("billing_postcode") or "",
                                   "city": account.get("billing_city") or ""}
        if countries:
            address["country"] = countries[0]
        values["addresses"] = [["create", [address]]]
        mechanisms = [{"type": kind, "value": account[field]} for kind, field in
                      (("email", "email"), ("phone", "phone"), ("website", "website"))
                      if account.get(field)]
        if mechanisms:
            values["contact_mechanisms"] = [["create", mechanisms]]
        if siren:
            values["identifiers"] = [["create", [{"type": "fr_siren", "code": siren}]]]
        [party_id] = self.client.create("party.party", [values])
        return int(party_id), True

