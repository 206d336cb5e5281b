"""The ``tryton`` connector: a Tryton 8 ERP read over JSON-RPC, incrementally.

Streams:

* ``parties`` — ``party.party`` with its first address, its e-mail/phone/mobile/website
  contact mechanisms and its SIREN/SIRET/VAT identifiers, flattened into one record. Tryton does
  not touch a party's ``write_date`` when an address, a contact mechanism or an identifier
  changes, so those models are polled too and their changes bring their party back.
* ``products`` — ``product.product`` with its template's name, unit and list price.

The cursor is ``<change time>|<id>``: records come in that order, so a run stopped anywhere
resumes right after the last committed record, and records changed in the same second are not
skipped. Deletions: ``existing_keys`` lists the ids Tryton still has (deactivated ones
included), the missing ones become tombstones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
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
    # (model, field pointing to the main record): children whose changes bring it back
    children: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, client: TrytonClient, name: str) -> None:
        self.client = client
        self.name = name

    def _changed_ids(self, since: dt.datetime | None) -> dict[int, dt.datetime]:
        """Ids of the main records changed since ``since`` (with their children), and when."""
        found: dict[int, dt.datetime] = {}
        domain = [] if since is None else _since(since)
        for row in self.client.iter_search_read(self.model, domain,
                                                ["write_date", "create_date"], page=5000,
                                                context=ALL):
            found[row["id"]] = _changed(row)
        if since is None:
            return found
        for model, parent in self.children:
            for row in self.client.iter_search_read(model, _since(since),
                                                    [parent, "write_date", "create_date"],
                                                    page=5000, context=ALL):
                owner = row.get(parent)
                if owner is None:
                    continue
                moment = _changed(row)
                if moment > found.get(owner, EPOCH):
                    found[owner] = moment
        return found

    def read(self, cursor: str | None) -> Iterator[Record]:
        at = decode_cursor(cursor)
        changed = self._changed_ids(at[0] if at else None)
        order = sorted(changed.items(), key=lambda item: (item[1], item[0]))
        if at is not None:
            order = [(i, m) for i, m in order if (m, i) > (at[0], at[1])]
        for start in range(0, len(order), PAGE):
            page = order[start:start + PAGE]
            rows = {row["id"]: row for row in self.client.read(
                self.model, [i for i, _m in page], self.fields, context=ALL)}
            extra = self.details(list(rows))
            for record_id, moment in page:
                row = rows.get(record_id)
                if row is None:  # deleted between the two calls: the tombstone pass sees it
                    continue
                yield Record(key=str(record_id), data=self.flatten(row, extra),
                             cursor=encode_cursor(moment, record_id),
                             position=f"{self.model} {record_id}")

    def details(self, ids: list[int]) -> dict[str, Any]:
        return {}

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        return row

    def existing_keys(self) -> Iterable[str] | None:
        return [str(i) for i in self._all_ids()]

    def _all_ids(self) -> Iterator[int]:
        last = 0
        while True:
            ids = self.client.search(self.model, [["id", ">", last]], 0, 10_000,
                                     [["id", "ASC"]], context=ALL)
            yield from ids
            if len(ids) < 10_000:
                return
            last = ids[-1]


def _compact(code: Any) -> str:
    return "".join(ch for ch in str(code or "") if ch.isalnum()).upper()


class PartiesStream(_TrytonStream):
    model = "party.party"
    fields: ClassVar[list[str]] = ["name", "code", "active", "write_date", "create_date"]
    children: ClassVar[list[tuple[str, str]]] = [
        ("party.address", "party"), ("party.contact_mechanism", "party"),
        ("party.identifier", "party")]

    def details(self, ids: list[int]) -> dict[str, Any]:
        domain = [["party", "in", ids]]
        addresses: dict[int, dict[str, Any]] = {}
        for row in self.client.search_read(
                "party.address", domain,
                ["party", "street", "postal_code", "city", "country.code", "sequence"],
                order=[["sequence", "ASC"], ["id", "ASC"]], context={}):
            addresses.setdefault(row["party"], row)  # the first active one, by sequence
        mechanisms: dict[int, dict[str, str]] = {}
        for row in self.client.search_read(
                "party.contact_mechanism", domain, ["party", "type", "value"],
                order=[["sequence", "ASC"], ["id", "ASC"]], context={}):
            mechanisms.setdefault(row["party"], {}).setdefault(row["type"], row["value"] or "")
        identifiers: dict[int, dict[str, str]] = {}
        for row in self.client.search_read("party.identifier", domain,
                                           ["party", "type", "code"], context={}):
            identifiers.setdefault(row["party"], {}).setdefault(row["type"] or "",
                                                                _compact(row["code"]))
        return {"addresses": addresses, "mechanisms": mechanisms, "identifiers": identifiers}

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        party = row["id"]
        address = extra["addresses"].get(party) or {}
        country = address.get("country.") or {}
        mechanisms = extra["mechanisms"].get(party) or {}
        identifiers = extra["identifiers"].get(party) or {}
        vat = identifiers.get("eu_vat") or identifiers.get("fr_vat") or ""
        return {
            "id": party, "name": row.get("name") or "", "code": row.get("code") or "",
            "active": bool(row.get("active", True)),
            "siren": identifiers.get("fr_siren") or (identifiers.get("fr_siret") or "")[:9],
            "siret": identifiers.get("fr_siret") or "", "vat": vat,
            "street": (address.get("street") or "").replace("\n", ", "),
            "postal_code": address.get("postal_code") or "", "city": address.get("city") or "",
            "country": (country.get("code") if isinstance(country, dict) else "") or "",
            "email": mechanisms.get("email", ""), "phone": mechanisms.get("phone", ""),
            "mobile": mechanisms.get("mobile", ""), "website": mechanisms.get("website", ""),
        }


class ProductsStream(_TrytonStream):
    model = "product.product"
    fields: ClassVar[list[str]] = [
        "code", "active", "write_date", "create_date", "template.name",
        "template.list_price", "template.default_uom.name", "template.type"]
    children: ClassVar[list[tuple[str, str]]] = []

    def flatten(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        template = row.get("template.") or {}
        uom = template.get("default_uom.") or {}
        return {
            "id": row["id"], "code": row.get("code") or "", "name": template.get("name") or "",
            "active": bool(row.get("active", True)), "list_price": template.get("list_price"),
            "unit": uom.get("name") or "", "type": template.get("type") or "",
        }


@register
class TrytonConnector(Connector):
    name = "tryton"
    label = "Tryton ERP (JSON-RPC)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "url": Parameter("Server URL", kind="url", help="e.g. http://erp.example.com:8000"),
        "database": Parameter("Database"),
        "username": Parameter("User", help="A Tryton user with read access (a dedicated one)."),
        "password": Parameter("Password", kind="secret"),
        "timeout": Parameter("Timeout (s)", required=False, default=30, kind="int"),
    }
    sensitive_parameters = frozenset({"password"})
    stream_classes: ClassVar[dict[str, type[_TrytonStream]]] = {
        "parties": PartiesStream, "products": ProductsStream}

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.client = TrytonClient(str(self.params["url"]), str(self.params["database"]),
                                   str(self.params["username"]), str(self.params["password"]),
                                   timeout=float(self.params["timeout"] or 30))

    def check(self) -> None:
        self.client.login()

    def streams(self) -> dict[str, Stream]:
        return {name: cls(self.client, name) for name, cls in self.stream_classes.items()}

    def close(self) -> None:
        self.client.close()

    def push_account(self, account: Mapping[str, Any]) -> int:
        """Create the account as a party in Tryton and return its id (I5).

        An existing party with the same SIREN, or failing that the same name, is reused: a
        retry after a crash between Tryton's answer and our commit must not create it twice,
        and the ERP may already know the company.
        """
        siren = _compact(account.get("siren"))
        if siren:
            found = self.client.search_read("party.identifier",
                                            [["type", "=", "fr_siren"]], ["party", "code"],
                                            context=ALL)
            for row in found:
                if _compact(row["code"]) == siren:
                    return int(row["party"])
        same_name = self.client.search("party.party", [["name", "=", account["legal_name"]]],
                                       0, 1, context=ALL)
        if same_name:
            return int(same_name[0])
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
        return int(party_id)

