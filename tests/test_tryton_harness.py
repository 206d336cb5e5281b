"""The Tryton harness and the JSON-RPC client, against a real Tryton 8 server.

Each test gets its own server on a fresh copy of the seeded ``small`` template (see
``comptoir.testing.tryton_seed``), so tests may change data freely.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from stdnum.fr import siren as stdnum_siren

from comptoir.integration.connectors.tryton_rpc import (
    TrytonClient,
    dumps,
    loads,
)
from comptoir.integration.engine.errors import (
    Category,
    ConfigError,
    PermanentError,
    SyncError,
    TransientError,
)
from comptoir.testing.tryton import TrytonServer, free_port
from comptoir.testing.tryton_fixtures import tryton, tryton_template  # noqa: F401

PARTY_FIELDS = [
    "name", "code", "active", "create_date", "write_date",
    "identifiers.type", "identifiers.code",
    "addresses.street", "addresses.postal_code", "addresses.city", "addresses.country.code",
    "contact_mechanisms.type", "contact_mechanisms.value",
]
INVOICE_FIELDS = [
    "number", "state", "type", "party", "party.name", "invoice_date", "currency.code",
    "untaxed_amount", "tax_amount", "total_amount", "amount_to_pay", "lines", "description",
]


@pytest.fixture
def client(tryton: TrytonServer) -> Iterator[TrytonClient]:  # noqa: F811
    with TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password,
                      timeout=10) as rpc:
        yield rpc


def assert_no_secret(error: SyncError, *secrets: str | None) -> None:
    for secret in secrets:
        if secret:
            assert secret not in error.message
            assert secret not in error.detail


# --- Login and seed data -------------------------------------------------------------------------

def test_login_opens_a_session_with_the_company_context(client: TrytonClient) -> None:
    assert client.server_version().startswith("8.")
    user_id = client.login()
    assert isinstance(user_id, int)
    assert client.logged_in
    context = client.context()
    assert context["company"] == 1
    assert context["language"] == "en"
    company = client.read("company.company", [context["company"]],
                          ["party.name", "currency.code"])[0]
    assert company["party."]["name"] == "Comptoir Démo SAS"
    assert company["currency."]["code"] == "EUR"


def test_seeded_parties_have_french_addresses_contacts_and_sirens(client: TrytonClient) -> None:
    company_party = client.search("party.party", [["name", "=", "Comptoir Démo SAS"]])
    parties = client.search_read("party.party", [["id", "not in", company_party]], PARTY_FIELDS,
                                 order=[["id", "ASC"]])
    assert len(parties) == 20
    assert client.search_count("party.party", []) == 21

    sirens = []
    for party in parties:
        assert party["name"]
        assert party["code"]
        assert isinstance(party["create_date"], datetime.datetime)
        address, = party["addresses."]
        assert address["country."]["code"] == "FR"
        assert len(address["postal_code"]) == 5
        assert address["postal_code"].isdigit()
        assert address["street"]
        assert address["city"]
        kinds = {m["type"] for m in party["contact_mechanisms."]}
        assert "email" in kinds
        assert kinds & {"phone", "mobile"}
        sirens += [i["code"] for i in party["identifiers."] if i["type"] == "fr_siren"]

    # stored formatted ("123 456 789"); valid for an independent checker
    assert len(sirens) >= 12
    assert all(stdnum_siren.is_valid(code) for code in sirens)
    assert any(" " in code for code in sirens)
    websites = [m for p in parties for m in p["contact_mechanisms."] if m["type"] == "website"]
    assert websites
    assert all(w["value"].startswith("https://") for w in websites)
    persons = [p for p in parties if any(m["type"] == "mobile"
                                         for m in p["contact_mechanisms."])]
    assert len(persons) == 4
    assert all(not p["identifiers."] for p in persons)


def test_seeded_products_sales_and_invoices_are_readable(client: TrytonClient) -> None:
    products = client.search_read("product.product", [], ["code", "rec_name",
                                                          "template.list_price", "type"])
    assert len(products) == 8
    assert all(p["type"] == "service" for p in products)
    prices = [p["template."]["list_price"] for p in products]
    assert all(isinstance(price, Decimal) and price > 0 for price in prices)

    sales = client.search_read("sale.sale", [], ["state", "number", "party", "sale_date",
                                                 "total_amount", "invoice_method", "lines"])
    assert len(sales) == 12
    states = sorted(s["state"] for s in sales)
    assert states.count("draft") == 2
    assert states.count("quotation") == 2
    # the sale whose invoice is paid in full is done (services: nothing to ship)
    assert states.count("processing") == 7
    assert states.count("done") == 1
    assert all(isinstance(s["sale_date"], datetime.date) and s["lines"] for s in sales)
    assert all(isinstance(s["total_amount"], Decimal) for s in sales)

    invoices = client.search_read("account.invoice", [], INVOICE_FIELDS, order=[["id", "ASC"]])
    assert len(invoices) == 9
    assert {i["type"] for i in invoices} == {"out"}
    assert all(i["currency."]["code"] == "EUR" and i["lines"] for i in invoices)
    by_state: dict[str, list[dict[str, Any]]] = {}
    for invoice in invoices:
        by_state.setdefault(invoice["state"], []).append(invoice)
        assert invoice["total_amount"] == invoice["untaxed_amount"] + invoice["tax_amount"]
    assert len(by_state["draft"]) == 1
    assert by_state["draft"][0]["number"] is None
    assert len(by_state["paid"]) == 1
    assert by_state["paid"][0]["amount_to_pay"] == 0
    posted = by_state["posted"]
    partly = [i for i in posted if 0 < i["amount_to_pay"] < i["total_amount"]]
    assert len(partly) == 1
    credit_notes = [i for i in posted if i["total_amount"] < 0]
    assert len(credit_notes) == 1
    assert credit_notes[0]["amount_to_pay"] == credit_notes[0]["total_amount"]
    assert credit_notes[0]["description"].startswith("Avoir sur ")

    lines = client.read("account.invoice.line", credit_notes[0]["lines"],
                        ["quantity", "unit_price", "amount", "product.code", "taxes"])
    assert all(line["quantity"] < 0 and line["amount"] < 0 and line["taxes"] for line in lines)
    assert all(isinstance(line["unit_price"], Decimal) for line in lines)


# --- Writing -------------------------------------------------------------------------------------

def test_party_create_write_delete_round_trip(client: TrytonClient) -> None:
    party_id, = client.create("party.party", [{
        "name": "Scierie Nouvelle SAS",
        "addresses": [["create", [{"street": "3 route des Pins", "postal_code": "40000",
                                   "city": "Mont-de-Marsan", "country": 1}]]],
        "identifiers": [["create", [{"type": "fr_siren", "code": "732829320"}]]],
        "contact_mechanisms": [["create", [{"type": "email", "value": "bois@scierie.fr"}]]],
    }])
    party, = client.read("party.party", [party_id], PARTY_FIELDS)
    assert party["name"] == "Scierie Nouvelle SAS"
    assert party["identifiers."][0]["code"] == "732 829 320"
    assert party["addresses."][0]["country."]["code"] == "FR"
    # party.party sets its code by a write inside create (and an address its street, a
    # function field with a setter), so write_date is filled at creation, not left empty
    assert party["write_date"] == party["create_date"]

    client.write("party.party", [party_id], {"name": "Scierie Nouvelle"})
    party, = client.read("party.party", [party_id], ["name", "create_date", "write_date"])
    assert party["name"] == "Scierie Nouvelle"
    assert party["write_date"] > party["create_date"]
    changed = client.search("party.party", [["write_date", ">=", party["write_date"]]])
    assert changed == [party_id]

    client.delete("party.party", [party_id])
    assert client.search("party.party", [["id", "=", party_id]]) == []


def test_typed_values_round_trip(client: TrytonClient) -> None:
    unit, = client.search("product.uom", [["name", "=", "Unit"]])
    template_id, = client.create("product.template", [{
        "name": "Forfait test", "type": "service", "default_uom": unit,
        "list_price": Decimal("1234.5678")}])
    template, = client.read("product.template", [template_id], ["list_price", "create_date"])
    assert template["list_price"] == Decimal("1234.5678")
    assert isinstance(template["list_price"], Decimal)

    created = template["create_date"]
    assert isinstance(created, datetime.datetime)
    assert created.tzinfo is None
    # datetimes in domains travel typed too
    assert client.search("product.template", [["create_date", ">=", created]]) == [template_id]
    assert client.search("product.template",
                         [["create_date", ">", created + datetime.timedelta(seconds=1)]]) == []

    sale_id, = client.search("sale.sale", [["state", "=", "draft"]], limit=1)
    client.write("sale.sale", [sale_id], {"sale_date": datetime.date(2025, 2, 28)})
    assert client.read("sale.sale", [sale_id], ["sale_date"])[0]["sale_date"] == \
        datetime.date(2025, 2, 28)

    payload = bytes(range(256)) * 3
    attachment_id, = client.create("ir.attachment", [{
        "name": "blob.bin", "resource": f"product.template,{template_id}", "data": payload}])
    assert client.read("ir.attachment", [attachment_id], ["data"])[0]["data"] == payload


def test_encoding_matches_tryton_forms() -> None:
    values = [datetime.datetime(2025, 3, 4, 5, 6, 7, 890), datetime.date(2025, 3, 4),
              datetime.time(23, 59, 58, 1), datetime.timedelta(days=2, seconds=3.5),
              Decimal("-0.10"), b"\x00\xff", "é"]
    assert loads(dumps(values)) == values
    assert loads(dumps(Decimal("3900.00"))) == Decimal("3900.00")
    assert dumps(Decimal("3900.00")) == b'{"__class__":"Decimal","decimal":"3900.00"}'
    assert loads(dumps((1, {2}))) == [1, [2]]


def test_user_error_is_permanent_with_trytons_message(client: TrytonClient) -> None:
    with pytest.raises(PermanentError) as caught:
        client.create("party.party", [{"name": "Mauvais SIREN", "identifiers": [
            ["create", [{"type": "fr_siren", "code": "123456789"}]]]}])
    error = caught.value
    assert error.category is Category.PERMANENT
    assert 'French Company Identification Number "123456789"' in error.message
    assert "is not valid" in error.message
    assert "UserError" in error.detail
    assert_no_secret(error, client._password, client._token)


def test_iter_search_read_pages_through_everything(tryton: TrytonServer,  # noqa: F811
                                                   client: TrytonClient) -> None:
    total = client.search_count("party.party", [])
    rows = list(client.iter_search_read("party.party", [], ["name"], page=4))
    ids = [row["id"] for row in rows]
    assert len(ids) == total
    assert ids == sorted(set(ids))

    # without gzip, Tryton still labels large answers "Content-Encoding: gzip"
    plain = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password,
                         compress=False)
    assert plain.search_read("party.party", [], PARTY_FIELDS, order=[["id", "ASC"]]) == \
        client.search_read("party.party", [], PARTY_FIELDS, order=[["id", "ASC"]])

    by_name = list(client.iter_search_read("party.party", [["name", "!=", ""]], ["name"],
                                           page=6, order=[["name", "ASC"], ["id", "ASC"]]))
    assert sorted(r["id"] for r in by_name) == sorted(ids)
    assert [r["name"] for r in by_name] == sorted(r["name"] for r in by_name)


def test_inactive_records_need_active_test_false(tryton: TrytonServer,  # noqa: F811
                                                 client: TrytonClient) -> None:
    party_id = client.search("party.party", [], limit=1)[0]
    client.write("party.party", [party_id], {"active": False})
    assert party_id not in client.search("party.party", [])
    archived = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password,
                            extra_context={"active_test": False})
    assert party_id in archived.search("party.party", [])
    assert archived.read("party.party", [party_id], ["active"])[0]["active"] in (0, False)


# --- Failures ------------------------------------------------------------------------------------

def test_wrong_password_is_a_config_error(tryton: TrytonServer) -> None:  # noqa: F811
    rpc = TrytonClient(tryton.url, tryton.database, tryton.username, "not-the-password")
    with pytest.raises(ConfigError) as caught:
        rpc.search("party.party", [])
    error = caught.value
    assert error.category is Category.CONFIG
    assert error.message.startswith("Tryton refused the login for user 'admin'")
    assert_no_secret(error, "not-the-password", tryton.password)


def test_unknown_database_is_a_config_error(tryton: TrytonServer) -> None:  # noqa: F811
    with pytest.raises(ConfigError, match="no database 'nope'"):
        TrytonClient(tryton.url, "nope", tryton.username, tryton.password).login()


def test_expired_session_logs_in_again(client: TrytonClient) -> None:
    client.login()
    first_user = client.user_id
    client._token = "0" * 64  # what the server sees once a session expired
    assert client.search_count("party.party", []) == 21
    assert client.user_id == first_user
    assert client._token != "0" * 64


def test_killed_server_is_transient_then_restarts_on_the_same_data(
        tryton: TrytonServer, client: TrytonClient) -> None:  # noqa: F811
    party_id, = client.create("party.party", [{"name": "Survivante SARL"}])
    token = client._token
    pid = tryton.pid
    tryton.kill()
    assert not tryton.running

    with pytest.raises(TransientError) as caught:
        client.search("party.party", [])
    error = caught.value
    assert error.category is Category.TRANSIENT
    assert error.message.startswith(f"Tryton is unreachable at {tryton.url}")
    assert_no_secret(error, tryton.password, token)

    tryton.start()
    assert tryton.running
    assert tryton.pid != pid
    # the session lives in the database, so it survives the restart as the data does
    assert client.read("party.party", [party_id], ["name"])[0]["name"] == "Survivante SARL"
    assert client._token == token

    tryton.stop()
    tryton.start()
    assert client.search_count("party.party", []) == 22


@contextlib.contextmanager
def _fake_server(respond: Callable[[http.server.BaseHTTPRequestHandler], None]
                 ) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            respond(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _answer(status: int, body: bytes, content_type: str = "text/html") -> Callable[..., None]:
    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return respond


@pytest.mark.parametrize("body", [b"<html><body>Bienvenue sur nginx</body></html>",
                                  b'{"jsonrpc": "2.0", "id": 1}', b"\xff\xfe garbage"])
def test_garbage_answer_is_permanent(body: bytes) -> None:
    with _fake_server(_answer(200, body)) as url:
        with pytest.raises(PermanentError) as caught:
            TrytonClient(url, "comptoir", "admin", "secret-pw").login()
        assert "not JSON-RPC" in caught.value.message
        assert_no_secret(caught.value, "secret-pw")


def test_server_errors_are_transient_and_nobody_listening_too() -> None:
    with (_fake_server(_answer(503, b"Service Unavailable")) as url,
          pytest.raises(TransientError, match="HTTP 503")):
        TrytonClient(url, "comptoir", "admin", "secret-pw").login()
    with pytest.raises(TransientError, match="unreachable"):
        TrytonClient(f"http://127.0.0.1:{free_port()}", "comptoir", "admin", "pw").login()


def test_silent_server_times_out_as_transient() -> None:
    release = threading.Event()

    def hang(handler: http.server.BaseHTTPRequestHandler) -> None:
        release.wait(5)

    with _fake_server(hang) as url:
        with pytest.raises(TransientError, match=r"no answer within 0\.5s"):
            TrytonClient(url, "comptoir", "admin", "pw", timeout=0.5).login()
        release.set()
