"""Tryton read from its database (``tryton-sql``) gives what Tryton's JSON-RPC gives.

The ``tryton`` connector's records are the reference: every stream of ``tryton-sql``, reading
the same server's database file, must yield the same keys and the same data (lists included,
decimals compared as numbers), on the small seed and on the messy one. A sync through either
fills the CRM the same way, and after the messy change set (each mode on its own copy) a second,
incremental sync leaves the same CRM again. Amounts Tryton computes on read (drafts' taxes and
totals) are checked on documents made for it: ties rounded half-even, several taxes on a line,
fixed and grouped taxes, negative lines, both tax rounding methods. The PostgreSQL queries run
on Tryton's tables copied to the server of ``DATABASE_URL`` (CI). Then the ``sql`` connector's
child queries and census, on a small SQLite file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import urllib.parse
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import models, transaction

from comptoir.core.errors import ValidationFailed
from comptoir.core.models import ExternalRef
from comptoir.crm.models import Account, Contact
from comptoir.integration.connectors.sql import CHILD_CHUNK, SqlConnector
from comptoir.integration.connectors.tryton import TrytonConnector
from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.connectors.tryton_sql import (
    TrytonSqlConnector,
    tryton_streams,
    url_dialect,
)
from comptoir.integration.engine.core import Record, connector_class
from comptoir.integration.engine.errors import ConfigError
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.reconcile import UNEXPLAINED, reconcile_connection
from comptoir.integration.services import connection_validate, load_connectors, sync_run
from comptoir.sales.models import PriceList, PriceListItem, Product, SalesDocument
from comptoir.testing.tryton import TrytonServer, apply_messy_changes
from comptoir.testing.tryton_fixtures import (  # noqa: F401
    tryton,
    tryton_messy,
    tryton_messy_template,
    tryton_template,
)

STREAMS = ("parties", "contacts", "products", "price_lists", "sales", "invoices")


def _rpc(server: TrytonServer) -> TrytonConnector:
    return TrytonConnector({"url": server.url, "database": server.database,
                            "username": server.username, "password": server.password})


def _sql(server: TrytonServer, **params: Any) -> TrytonSqlConnector:
    return TrytonSqlConnector({"url": f"sqlite://{server.database_path}", **params})


def _records(connector: Any, stream: str) -> dict[str, dict[str, Any]]:
    records = list(connector.streams()[stream].read(None))
    assert [r.error for r in records if r.error] == []
    found = {r.key: r.data for r in records}
    assert len(found) == len(records), f"{stream}: a key read twice"
    return found


def _differences(theirs: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]]
                 ) -> list[str]:
    """Each difference said once: a key missing on one side, or a field and both values.
    (``==`` compares decimals as numbers: Decimal("2E+1") == Decimal("20.00").)"""
    out = [f"{key}: only from {'tryton' if key in theirs else 'tryton-sql'}"
           for key in sorted(set(theirs) ^ set(ours))]
    for key in sorted(set(theirs) & set(ours)):
        a, b = theirs[key], ours[key]
        out += [f"{key}.{name}: tryton {a.get(name, '<none>')!r}, tryton-sql "
                f"{b.get(name, '<none>')!r}" for name in sorted(set(a) | set(b))
                if a.get(name, "<none>") != b.get(name, "<none>")
                or type(a.get(name)) is not type(b.get(name))]
    return out


def _same_records(server: TrytonServer, sql: Any | None = None) -> None:
    rpc = _rpc(server)
    sql = sql or _sql(server)
    sql.check()  # every query, child query and census query runs
    try:
        for stream in STREAMS:
            theirs, ours = _records(rpc, stream), _records(sql, stream)
            assert theirs or stream == "contacts", f"{stream}: the seed has no such record"
            assert _differences(theirs, ours) == [], stream
            # (an empty deleted_query means "cannot tell" to the sql connector: None)
            assert (set(sql.streams()[stream].existing_keys() or ())
                    == set(rpc.streams()[stream].existing_keys() or ())), stream
    finally:
        rpc.close()
        sql.close()


# --- The same records -------------------------------------------------------------------------

@pytest.mark.parametrize("server", ["tryton", "tryton_messy"])
def test_every_stream_gives_the_tryton_connectors_records(request: pytest.FixtureRequest,
                                                          server: str) -> None:
    """On the small seed, and on the messy one (NFD and NBSP names, multi-line streets,
    several addresses, named contact mechanisms, odd identifiers, documents in every state,
    4-decimal prices, credit notes, payments)."""
    _same_records(request.getfixturevalue(server))


def _tricky_documents(client: TrytonClient) -> None:
    """Documents whose amounts Tryton computes on read (drafts: no cached amounts), with lines
    that hit each rule: a tax of 0.125 (a tie, rounded to even), several taxes on a line (the
    rounding remainder taken back), a fixed tax, a tax grouping two child taxes, a negative
    base (a group of its own), 4-decimal prices, fractional quantities; a draft credit note
    (negative, no positive line); an empty sale and an empty invoice ("0", not "0.00")."""
    account = client.read("account.tax", [1], ["invoice_account"])[0]["invoice_account"]
    base = {"invoice_account": account, "credit_note_account": account, "company": 1}
    [eco] = client.create("account.tax", [{**base, "name": "Éco", "description": "Éco",
                                           "type": "fixed", "amount": Decimal("0.15")}])
    [grouped] = client.create("account.tax", [{
        **base, "name": "Groupe", "description": "Groupe", "type": "none",
        "childs": [["create", [
            {**base, "name": "A", "description": "A", "type": "percentage",
             "rate": Decimal("0.021")},
            {**base, "name": "B", "description": "B", "type": "fixed",
             "amount": Decimal("0.05")}]]]}])
    lines = [(1, "0.6250", [1]), (3, "0.6250", [1]), (2.33, "218.6625", [1, 2]),
             (1.25, "54.4140", [1, 2]), (-1, "10.0050", [1]), (0.5, "0.0500", [2]),
             (4, "12.3450", [eco, 1]), (7, "3.3333", [grouped]), (1, "0.0250", [1, 2, eco])]
    sale = client.read("sale.sale", [1], ["party", "invoice_address", "currency", "company"])[0]
    head = {"party": sale["party"], "invoice_address": sale["invoice_address"],
            "currency": sale["currency"], "company": sale["company"]}
    client.create("sale.sale", [{**head, "lines": [["create", [
        {"type": "line", "description": f"L{i}", "quantity": quantity,
         "unit_price": Decimal(price), "unit": 2, "taxes": [["add", taxes]]}
        for i, (quantity, price, taxes) in enumerate(lines)]]]}, head])
    invoice = client.search_read("account.invoice", [["state", "=", "draft"]],
                                 ["party", "invoice_address", "account", "journal"],
                                 limit=1)[0]
    revenue = client.search_read("account.invoice.line", [["invoice", "=", invoice["id"]]],
                                 ["account"], limit=1)[0]["account"]
    head = {"type": "out", "party": invoice["party"], "account": invoice["account"],
            "invoice_address": invoice["invoice_address"], "journal": invoice["journal"],
            "company": 1, "currency": sale["currency"]}

    def invoice_lines(specs: list[tuple[float, str, list[int]]]) -> list[Any]:
        return [["create", [
            {"type": "line", "description": f"L{i}", "quantity": quantity, "account": revenue,
             "unit_price": Decimal(price), "unit": 2, "taxes": [["add", taxes]]}
            for i, (quantity, price, taxes) in enumerate(specs)]]]

    # Tryton makes a draft invoice's tax lines when it is saved.
    client.create("account.invoice", [
        {**head, "lines": invoice_lines(lines)},
        {**head, "lines": invoice_lines([(-2, "45.1250", [1]), (1, "0", [2])])},
        head])


def test_amounts_tryton_computes_on_read_are_computed_alike(tryton: TrytonServer  # noqa: F811
                                                             ) -> None:
    client = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password)
    _tricky_documents(client)
    _same_records(tryton)
    credit = [r.data for r in _sql(tryton).streams()["invoices"].read(None)
              if r.data["total_amount"] < 0 and r.data["state"] == "draft"]
    assert [c["sequence_type"] for c in credit] == ["credit_note"]
    client.write("account.configuration", [1], {"tax_rounding": "line"})
    _same_records(tryton)
    client.close()


def test_a_change_to_a_child_alone_brings_its_record_back(tryton: TrytonServer  # noqa: F811
                                                          ) -> None:
    sql = _sql(tryton)
    client = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password)
    try:
        cursors = {name: [r.cursor for r in sql.streams()[name].read(None)][-1]
                   for name in ("parties", "products", "sales")}
        for name, cursor in cursors.items():
            assert list(sql.streams()[name].read(cursor)) == [], name
        # Tryton leaves the party's and the sale's own write_date as they were.
        address = client.search_read("party.address", [], ["party"], limit=1)[0]
        client.write("party.address", [address["id"]], {"city": "Villeurbanne"})
        line = client.search_read("sale.line", [["sale.state", "=", "draft"]], ["sale"],
                                  limit=1)[0]
        client.write("sale.line", [line["id"]], {"description": "Changée"})
        [party] = list(sql.streams()["parties"].read(cursors["parties"]))
        assert (party.key, party.data["city"]) == (str(address["party"]), "Villeurbanne")
        [sale] = list(sql.streams()["sales"].read(cursors["sales"]))
        assert sale.key == f"sale.sale,{line['sale']}"
        assert "Changée" in [ln["description"] for ln in sale.data["lines"]]
        # A product's name and list price are its template's (the tryton connector, which
        # watches product.product alone, does not see this change before a --full run).
        template = client.read("product.product", [1], ["template"])[0]["template"]
        client.write("product.template", [template], {"list_price": Decimal("999.00")})
        [product] = list(sql.streams()["products"].read(cursors["products"]))
        assert (product.key, product.data["list_price"]) == ("1", Decimal("999.00"))
    finally:
        sql.close()
        client.close()


# --- The same CRM -----------------------------------------------------------------------------

OBJECT_TYPES: dict[type[models.Model], str] = {
    Account: "account", Contact: "contact", Product: "product", PriceList: "pricelist",
    PriceListItem: "pricelistitem", SalesDocument: "salesdocument"}
MODELS = {kind: model for model, kind in OBJECT_TYPES.items()}
CHILDREN = {Account: ("addresses", "identifiers", "channels"), SalesDocument: ("lines",)}
NOT_CONTENT = {"id", "created_at", "updated_at", "synced_at", "object_id"}


def _identity(model: type[models.Model], pk: Any) -> Any:
    """A related record by what does not change from one sync to another: its reference."""
    kind = OBJECT_TYPES.get(model)
    if kind is None:
        return (model.__name__, str(model._default_manager.get(pk=pk)))
    ref = ExternalRef.objects.filter(object_type=kind, object_id=pk).first()
    return (kind, ref.external_id if ref else f"local {model._default_manager.get(pk=pk)}")


def _content(obj: models.Model, parent: models.Model | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in NOT_CONTENT:
            continue
        value = getattr(obj, field.attname)
        if field.is_relation and value is not None:
            if parent is not None and field.related_model is type(parent):
                continue
            value = _identity(field.related_model, value)  # type: ignore[arg-type]
        elif isinstance(value, dt.datetime):
            value = "set"  # a moment of the sync (a tombstone's): whether it is set counts
        out[field.name] = value
    for name in CHILDREN.get(type(obj), ()):
        out[name] = [_content(child, obj) for child in
                     getattr(obj, name).order_by("position", "pk")]
    return out


def _crm() -> dict[tuple[str, str], dict[str, Any]]:
    """Everything the sync made, by reference: the ExternalRef and its record."""
    out = {}
    for ref in ExternalRef.objects.filter(system="tryton"):
        obj = MODELS[ref.object_type]._default_manager.get(pk=ref.object_id)
        out[(ref.object_type, ref.external_id)] = {
            "ref": {f.name: getattr(ref, f.attname) for f in ref._meta.concrete_fields
                    if f.name not in NOT_CONTENT and f.name != "deleted_at"},
            "deleted": ref.deleted_at is not None, "record": _content(obj)}
    return out


def _connection(server: TrytonServer, connector: str) -> Connection:
    if connector == "tryton":
        parameters = {"url": server.url, "database": server.database,
                      "username": server.username}
        secrets = {"password": server.password}
    else:
        parameters, secrets = {"page_size": 6}, {"url": f"sqlite://{server.database_path}"}
    return Connection.objects.create(
        name=f"erp-{connector}", connector=connector, mapping=builtin_mapping("tryton"),
        batch_size=7, parameters=parameters, secrets=secrets)


def _sync(connection: Connection) -> dict[str, Any]:
    """A run's counts by stream, and what it quarantined (the messy data has records the
    CRM refuses: a party without a name, a name too long…), which must not depend on the
    mode."""
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_category, run.error_message)
    refused = sorted(run.quarantined_records.values_list("stream", "external_id", "field",
                                                         "reason"))
    return {**run.details["streams"], "quarantined": refused}


@contextlib.contextmanager
def _then_undone() -> Iterator[None]:
    """What the block writes to Comptoir's database is undone after it (a savepoint), so two
    syncs of the same ERP data can each start from an empty CRM."""
    saved = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(saved)


def _synced(server: TrytonServer, connector: str
            ) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
    """A full sync's counts and the CRM it leaves, then the database as it was before."""
    with _then_undone():
        counts = _sync(_connection(server, connector))
        assert counts["quarantined"] == []
        return counts, _crm()


def _same_crm(crm_rpc: dict[tuple[str, str], dict[str, Any]],
              crm_sql: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert sorted(crm_sql) == sorted(crm_rpc)
    different = [key for key in crm_rpc if crm_sql[key] != crm_rpc[key]]
    assert different == [], [(key, part, name, crm_rpc[key][part].get(name),
                              crm_sql[key][part].get(name))
                             for key in different[:3] for part in ("ref", "record")
                             for name in crm_rpc[key][part]
                             if crm_rpc[key][part][name] != crm_sql[key][part][name]]


def test_a_sync_through_either_gives_the_same_crm(db: None, tryton: TrytonServer  # noqa: F811
                                                  ) -> None:
    counts_rpc, crm_rpc = _synced(tryton, "tryton")
    counts_sql, crm_sql = _synced(tryton, "tryton-sql")
    assert counts_sql == counts_rpc
    kinds = {kind for kind, _id in crm_rpc}
    assert kinds >= {"account", "product", "pricelist", "pricelistitem", "salesdocument"}
    _same_crm(crm_rpc, crm_sql)  # content hashes included: the same values, written alike
    documents = [v["record"] for (kind, _id), v in crm_sql.items() if kind == "salesdocument"]
    assert all(d["lines"] for d in documents)
    assert any(d["total_incl_tax"] for d in documents)


def test_after_the_messy_change_set_both_leave_the_same_crm(
        db: None, tryton_messy: TrytonServer, tryton_messy_template: Path,  # noqa: F811
        tmp_path: Path) -> None:
    """Each mode on its own copy of the messy data: a first sync, Tryton's change set
    (renames, moved addresses, new, deactivated and deleted parties, new invoices, a credit
    note, a payment, sales moved on), a second sync that reads only what changed. Both leave
    the same CRM, and the records still match after the changes."""
    other = TrytonServer(tryton_messy_template, workdir=tmp_path / "tryton-messy-2")
    with other:
        outcomes = []
        for server, connector in ((tryton_messy, "tryton"), (other, "tryton-sql")):
            with _then_undone():
                connection = _connection(server, connector)
                first = _sync(connection)
                apply_messy_changes(server)
                second = _sync(connection)
                # and each mode's reconciliation finds the CRM equal to its source
                checked = reconcile_connection(connection)
                assert checked.status == "succeeded", checked.error_message
                assert checked.details["reconcile"]["unexplained"] == 0, [
                    d for stream in checked.details["reconcile"]["streams"]
                    for d in stream["differences"] if d["kind"] in UNEXPLAINED][:5]
                outcomes.append((first, second, _crm()))
        (first_rpc, second_rpc, crm_rpc), (first_sql, second_sql, crm_sql) = outcomes
        assert first_sql == first_rpc

        def changes(counts: dict[str, Any]) -> dict[str, Any]:
            # (what was read again differs: each mode's cursor sees its own set of children)
            return {stream: c if stream == "quarantined" else
                    (c["created"], c["updated"], c["deleted"]) for stream, c in counts.items()}

        _same_crm(crm_rpc, crm_sql)
        assert changes(second_sql) == changes(second_rpc)
        assert first_sql["quarantined"]  # the messy data has records the CRM refuses
        assert sum(c["deleted"] for name, c in second_sql.items() if name != "quarantined")
        _same_crm(crm_rpc, crm_sql)
        _same_records(other)


def test_the_connector_is_registered_and_validated(db: None) -> None:
    load_connectors()
    assert connector_class("tryton-sql") is TrytonSqlConnector
    connection = Connection(name="tryton-db", connector="tryton-sql",
                            mapping=builtin_mapping("tryton"), parameters={},
                            secrets={"url": "sqlite:///srv/tryton.sqlite"})
    connection_validate(connection)  # no stream to write: the connector brings its own
    connection.parameters = {"streams": "{}"}
    with pytest.raises(ValidationFailed) as error:
        connection_validate(connection)
    assert "unknown parameter 'streams'" in str(error.value.fields["parameters"])
    assert url_dialect("postgresql://reader:pw@db/tryton") == "postgresql"
    assert url_dialect("sqlite:///srv/tryton.sqlite") == "sqlite"
    for dialect in ("sqlite", "postgresql"):
        streams = tryton_streams(dialect)
        assert sorted(streams) == sorted(STREAMS)
        SqlConnector({"url": "sqlite:///srv/tryton.sqlite", "streams": streams})
    assert "GREATEST(" in tryton_streams("postgresql")["sales"]["query"]
    assert "GREATEST(" not in tryton_streams("sqlite")["sales"]["query"]
    with pytest.raises(ConfigError, match="dialect"):
        tryton_streams("mysql")  # type: ignore[arg-type]


# --- PostgreSQL: Tryton's tables copied there --------------------------------------------------

TABLES = ("party_party", "party_address", "party_contact_mechanism", "party_identifier",
          "country_country", "company_company", "currency_currency", "product_product",
          "product_template", "product_uom", "product_list_price", "sale_sale", "sale_line",
          "sale_line-account_tax", "account_tax", "account_configuration_tax_rounding",
          "account_invoice", "account_invoice_line", "account_invoice_line-account_tax",
          "account_invoice_tax", "account_move_line", "account_invoice-account_move_line",
          "account_invoice-additional-account_move")
PG_TYPES = {"INTEGER": "integer", "BOOLEAN": "boolean", "TEXT": "text", "NUMERIC": "numeric",
            "TIMESTAMP": "timestamp", "DATE": "date", "FLOAT": "double precision",
            "BLOB": "bytea", "INTERVAL": "double precision"}


@contextlib.contextmanager
def _tryton_on_postgresql(sqlite_path: Path) -> Iterator[str]:
    """The tables the queries read, copied with Tryton's PostgreSQL types (decimals that
    SQLite keeps as text become numeric) into a database of their own."""
    import os

    import psycopg

    server = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    name = f"comptoir_tryton_{uuid.uuid4().hex[:12]}"
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(server)._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with contextlib.closing(sqlite3.connect(sqlite_path)) as lite, \
                psycopg.connect(url) as pg:
            for table in TABLES:
                columns = [(row[1], "varchar" if row[2].upper().startswith("VARCHAR")
                            else PG_TYPES.get(row[2].upper(), "text"))
                           for row in lite.execute(f'PRAGMA table_info("{table}")')]
                pg.execute(f'CREATE TABLE "{table}" ('
                           + ", ".join(f'"{n}" {t}' for n, t in columns) + ")")
                rows = [[None if v is None else bool(v) if t == "boolean"
                         else v.decode() if t == "numeric" and isinstance(v, bytes) else v
                         for (_n, t), v in zip(columns, row, strict=True)]
                        for row in lite.execute(f'SELECT * FROM "{table}"')]
                if rows:
                    with pg.cursor() as cursor:
                        cursor.executemany(f'INSERT INTO "{table}" VALUES ('
                                           + ", ".join(["%s"] * len(columns)) + ")", rows)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgresql
def test_the_postgresql_queries_give_the_same_records(tryton: TrytonServer  # noqa: F811
                                                      ) -> None:
    client = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password)
    _tricky_documents(client)
    for rounding in ("document", "line"):
        client.write("account.configuration", [1], {"tax_rounding": rounding})
        with _tryton_on_postgresql(tryton.database_path) as url:
            connector = TrytonSqlConnector({"url": url, "page_size": 5})
            assert connector.dialect == "postgresql"
            _same_records(tryton, connector)
    client.close()


# --- Child queries of the sql connector, on a small SQLite file --------------------------------

def _erp(path: Path, parents: int, lines: dict[int, int]) -> str:
    """``parents`` orders, ``lines[n]`` lines for order n (none for the others)."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, ref TEXT, "
                     "changed TIMESTAMP, total NUMERIC)")
        conn.execute("CREATE TABLE order_line (id INTEGER PRIMARY KEY, order_id INTEGER, "
                     "seq INTEGER, label TEXT, price NUMERIC, day DATE)")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)",
                         [(n, f"O{n}", f"2026-01-01 10:00:{n % 60:02d}", "12.50")
                          for n in range(1, parents + 1)])
        conn.executemany(
            "INSERT INTO order_line (order_id, seq, label, price, day) VALUES (?, ?, ?, ?, ?)",
            [(n, count - i, f"L{n}.{i}", f"{i}.10", "2026-02-03")
             for n, count in lines.items() for i in range(count)])
    return f"sqlite://{path}"


def _orders(url: str, page_size: int = 5000, **children: Any) -> SqlConnector:
    lines = {"query": "SELECT order_id AS parent, id, seq, label, price, day FROM order_line",
             "parent": "parent", "order": ["seq", "id"], "omit": ["seq"],
             "types": {"price": "decimal", "day": "date"}}
    return SqlConnector({"url": url, "page_size": page_size, "streams": {"orders": {
        "query": "SELECT id, ref, changed, total FROM orders", "key": "id",
        "key_prefix": "order,", "cursor": "changed", "omit": ["changed"],
        "types": {"total": "decimal"}, "deleted_query": "SELECT id FROM orders",
        "children": children or {"lines": lines}}}})


def _read(connector: SqlConnector, stream: str = "orders") -> dict[str, Record]:
    try:
        return {r.key: r for r in connector.streams()[stream].read(None)}
    finally:
        connector.close()


def test_child_rows_come_as_lists_in_their_order(tmp_path: Path) -> None:
    url = _erp(tmp_path / "erp.sqlite", 3, {1: 3, 3: 1})
    records = _read(_orders(url))
    assert sorted(records) == ["order,1", "order,2", "order,3"]
    first = records["order,1"]
    assert first.data == {"id": 1, "ref": "O1", "total": Decimal("12.50"), "lines": [
        {"id": 3, "label": "L1.2", "price": Decimal("2.10"), "day": dt.date(2026, 2, 3)},
        {"id": 2, "label": "L1.1", "price": Decimal("1.10"), "day": dt.date(2026, 2, 3)},
        {"id": 1, "label": "L1.0", "price": Decimal("0.10"), "day": dt.date(2026, 2, 3)}]}
    assert records["order,2"].data["lines"] == []
    assert [ln["label"] for ln in records["order,3"].data["lines"]] == ["L3.0"]
    stream = _orders(url).streams()["orders"]
    assert stream.key_prefix == "order,"
    assert set(stream.existing_keys() or ()) == set(records)
    _orders(url).check()


def test_a_page_of_parents_past_sqlites_variable_limit_is_chunked(tmp_path: Path) -> None:
    # One page of 40,000 orders: their keys in one IN list would pass even the 32,766
    # variables of today's SQLite (999 before 3.32).
    parents = 40_000
    lines = {n: 1 + n % 2 for n in range(1, parents + 1, 7)}
    url = _erp(tmp_path / "erp.sqlite", parents, lines)
    records = _read(_orders(url, page_size=parents))
    assert CHILD_CHUNK < 999
    assert len(records) == parents
    assert all(len(r.data["lines"]) == lines.get(int(r.data["id"]), 0)
               for r in records.values())
    assert [ln["label"] for ln in records["order,39999"].data["lines"]] == ["L39999.1",
                                                                          "L39999.0"]


def test_a_value_not_of_its_type_makes_an_error_record(tmp_path: Path) -> None:
    url = _erp(tmp_path / "erp.sqlite", 2, {1: 1, 2: 1})
    with contextlib.closing(sqlite3.connect(tmp_path / "erp.sqlite")) as conn, conn:
        conn.execute("UPDATE order_line SET day = '3 février' WHERE order_id = 2")
    records = _read(_orders(url))
    assert records["order,1"].error is None
    error = records["order,2"].error or ""
    assert "lines" in error
    assert "column day: '3 février' is not a date" in error


@pytest.mark.parametrize(("child", "problem"), [
    ({"parent": "parent"}, "lines.query"),
    ({"query": "SELECT 1 AS parent"}, "lines.parent: required"),
    ({"query": "SELECT 1 AS parent", "parent": "order_id; DROP TABLE orders"},
     "lines.parent"),
    ({"query": "SELECT 1 AS parent", "parent": "parent", "order": ["seq DESC"]},
     "lines.order"),
    ({"query": "SELECT 1 AS parent", "parent": "parent", "order": []}, "lines.order"),
    ({"query": "SELECT 1 AS parent", "parent": "parent", "omit": "a b"}, "lines.omit"),
    ({"query": "SELECT 1 AS parent", "parent": "parent", "types": {"x": "money"}},
     "lines.types.x"),
    ({"query": "SELECT 1 AS parent", "parent": "parent", "sort": "id"}, "'sort'"),
    ("SELECT 1", "lines: must be an object"),
])
def test_bad_child_settings_are_config_errors(child: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"streams\.orders\.children") as error:
        _orders("sqlite:///srv/erp.sqlite", lines=child)
    assert problem in str(error.value)


@pytest.mark.parametrize(("children", "problem"), [
    ({"bad name": {"query": "SELECT 1 AS parent", "parent": "parent"}}, "'bad name'"),
    ({}, "children"),
])
def test_bad_children_are_config_errors(children: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        SqlConnector({"url": "sqlite:///srv/erp.sqlite", "streams": {"orders": {
            "query": "SELECT 1 AS id", "children": children}}})


@pytest.mark.parametrize(("child", "problem"), [
    ({"query": "SELECT order_id AS parent, id FROM no_such_table", "parent": "parent"},
     "no such table"),
    ({"query": "SELECT order_id AS parent, seq FROM order_line", "parent": "parent"},
     "id"),  # the default order column is missing
    ({"query": "SELECT id FROM order_line", "parent": "parent"}, "parent"),
])
def test_a_failing_child_query_is_a_config_error_naming_it(tmp_path: Path, child: Any,
                                                           problem: str) -> None:
    url = _erp(tmp_path / "erp.sqlite", 2, {1: 1})
    with pytest.raises(ConfigError, match=r"stream orders, child lines|Stream orders, "
                                          r"child lines") as error:
        _read(_orders(url, lines=child))
    assert problem in str(error.value)
    with pytest.raises(ConfigError, match="child lines"):
        _orders(url, lines=child).check()


def test_a_child_named_like_a_column_is_a_config_error(tmp_path: Path) -> None:
    url = _erp(tmp_path / "erp.sqlite", 1, {1: 1})
    child = {"query": "SELECT order_id AS parent, id FROM order_line", "parent": "parent"}
    with pytest.raises(ConfigError, match="child 'ref'"):
        _read(_orders(url, ref=child))


def test_a_deleted_child_row_brings_its_record_back_by_the_census(tmp_path: Path) -> None:
    url = _erp(tmp_path / "erp.sqlite", 300, dict.fromkeys(range(1, 301), 2))
    connector = SqlConnector({"url": url, "page_size": 50, "streams": {"orders": {
        "query": "SELECT id, ref, changed FROM orders", "key": "id", "cursor": "changed",
        "census": True, "children": {"lines": {
            "query": "SELECT order_id AS parent, id, label FROM order_line",
            "parent": "parent"}}}}})
    stream = connector.streams()["orders"]
    try:
        records = list(stream.read(None))
        assert len(records) == 300
        last = records[-1].cursor
        assert list(stream.read(last)) == []
        with contextlib.closing(sqlite3.connect(tmp_path / "erp.sqlite")) as conn, conn:
            conn.execute("DELETE FROM order_line WHERE order_id = 7 AND label = 'L7.1'")
        # Order 7's date did not move: the census finds it, with the orders of its bucket
        # (ids ≡ 7 mod 128) that the pass would not read anyway.
        again = list(stream.read(last))
        assert [r.key for r in again] == ["7", "135", "263"]
        assert [ln["label"] for ln in again[0].data["lines"]] == ["L7.0"]
        # at the old position until the last, which records the new census
        assert [r.cursor for r in again[:-1]] == [last, last]
        assert list(stream.read(again[-1].cursor)) == []
        # A cursor written without a census is read from the start, which is always safe.
        assert len(list(stream.read('["2026-01-01 10:00:59", 300]'))) == 300
    finally:
        connector.close()


@pytest.mark.parametrize(("given", "problem"), [
    ({"census": True}, "census: only for a stream with a cursor"),
    ({"census": True, "cursor": "changed"}, "census: true needs children"),
    ({"census": ["SELECT 1", 2], "cursor": "changed"}, "census: a list of SELECTs"),
    ({"census": "yes", "cursor": "changed"}, "census: true, or a list"),
])
def test_bad_census_settings_are_config_errors(given: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        SqlConnector({"url": "sqlite:///srv/erp.sqlite", "streams": {"orders": {
            "query": "SELECT 1 AS id", **given}}})
