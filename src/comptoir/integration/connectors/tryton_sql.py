"""Tryton 8 read from its database: the ``tryton`` connector's streams, as SQL for ``sql``.

For a Tryton whose JSON-RPC is closed, slow or not worth a user account, but whose database
can be read. :func:`tryton_streams` gives the ``streams`` parameter of the ``sql`` connector
for ``parties``, ``contacts``, ``products``, ``price_lists``, ``sales`` and ``invoices``, whose
records are the ``tryton`` connector's records (same keys, fields and values, lists
included), so the shipped ``tryton`` mapping loads them as they are. The ``tryton-sql``
connector registered here is that: a connection says ``connector = "tryton-sql"`` with its
``url`` (the SQL dialect follows the URL) and the mapping ``tryton``.

What Tryton computes on read is computed here the way Tryton does it (read in trytond 8.2):

* the company's own party (``company_company.party``) is not a customer: left out of parties
  and contacts; deactivated records (parties, products) are data, deactivated addresses,
  contact mechanisms and identifiers are not (Tryton's ``active_test``);
* sales and invoices carry their ``line`` lines (not titles, comments, subtotals) with the VAT
  rate in percent (their percentage taxes added up); a sale's amounts are its ``*_cache``
  columns when confirmed/processing/done/cancelled and all three are filled, an invoice's when
  all three are filled; otherwise they are computed: each line's amount rounded half-even to
  the currency, the taxes of the sale's lines grouped and rounded per document or per line as
  the company's ``tax_rounding`` says (with Tryton's compensation of the rounding remainder),
  an invoice's taxes from its tax lines (``account_invoice_tax``);
* an invoice's ``amount_to_pay`` (posted invoices only: the lines to pay and payment lines not
  reconciled), its ``due_date`` (the first maturity of its lines to pay, else the payment
  term's date) and its ``sequence_type`` (Tryton's cached one, else credit note for a negative
  total without a positive line).

Exact arithmetic: SQLite has no decimal type (Tryton stores decimals there as text), so amounts
are computed on integers — prices at 4 decimals, quantities at 5, tax rates and fixed tax
amounts at 6, currency roundings at 8 — and given back as decimal text that the stream's
``types`` turn into ``Decimal``. PostgreSQL runs the same integer arithmetic on ``bigint``.

Not reproduced (rare, and each would cost a page of SQL): a street Tryton formats from the
structured fields (street name, building number…: the text street is used, which is what
Tryton shows when those are empty, as they are after any edit of the street); taxes that
update the unit price of the taxes after them; the currency rate Tryton applies to what is
left to pay when an invoice is not in the company's currency and a line to pay has no amount
in the invoice's (the amount is taken as it is); translated product and unit names (the
database's own language is read); "today", for taxes with start or end dates, is the
database's date (Tryton's is the company's time zone's); and, in SQLite, the case folding of
non-ASCII letters when contact names are grouped (SQLite's ``lower`` folds A–Z only,
PostgreSQL's every letter; Python's ``casefold`` also folds ß to ss).

Cursors: each record's cursor is the latest change of the record and everything it is made of
(a party's addresses, contact mechanisms and identifiers; a product's template and list price;
a sale's lines; an invoice's lines, taxes, move lines and payments), so a change anywhere
brings it back; a deleted address, contact mechanism, identifier or line, which leaves no date,
is seen by the ``census`` (the tryton connector's too): the records of its bucket are read
again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from comptoir.integration.connectors.sql import DEFAULT_PAGE_SIZE, SqlConnector, _page_size
from comptoir.integration.engine.core import Parameter, register
from comptoir.integration.engine.errors import ConfigError

Dialect = Literal["sqlite", "postgresql"]

# What Python's str.split() and str.strip() take for white space, and where str.splitlines()
# cuts: contact names are grouped and streets put on one line exactly as tryton.py does.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
LINE_BREAKS = "\n\x0b\x0c\r\x1c\x1d\x1e\x85\u2028\u2029"
# Left out of identifiers when they are compacted (tryton.py keeps letters and digits only).
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u00ab\u00bb\u2010\u2011\u2012\u2013\u2014\u2019"
CHANNEL_KINDS = ("email", "phone", "mobile", "fax", "website")
SALE_CACHED_STATES = ("confirmed", "processing", "done", "cancelled")
EPOCH = "'1970-01-01 00:00:00'"
D_PRICE = 10_000  # unit prices: 4 decimals
D_QUANTITY = 100_000  # quantities: 5 decimals
D_RATE = 1_000_000  # tax rates and fixed tax amounts: 6 decimals
D_MONEY = 100_000_000  # currency roundings and stored amounts: 8 decimals
SPLIT = 10_000_000  # a price × quantity (at 1e9) is cut here so its product by a rate fits


def _own_parties() -> str:
    return "(SELECT co.party FROM company_company co WHERE co.party IS NOT NULL)"


def _changed(alias: str) -> str:
    return f"COALESCE({alias}.write_date, {alias}.create_date)"


@dataclass(frozen=True)
class _Sql:
    """The few spellings SQLite and PostgreSQL do not share."""

    dialect: Dialect

    @property
    def sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def chars(self, text: str) -> str:
        """A string expression holding ``text`` (control characters included)."""
        if self.sqlite:
            return f"char({', '.join(str(ord(c)) for c in text)})"
        return "(" + " || ".join(f"chr({ord(c)})" for c in text) + ")"

    def greatest(self, *values: str) -> str:
        # SQLite's scalar MAX is NULL if one value is: every value here is COALESCEd.
        return f"{'MAX' if self.sqlite else 'GREATEST'}({', '.join(values)})"

    def latest(self, own: str, *children: str) -> str:
        """The latest of a record's change time and its children's (subqueries)."""
        return self.greatest(own, *(f"COALESCE({c}, {own})" for c in children))

    def number(self, value: str) -> str:
        """A NUMERIC column as a number to compute with (SQLite keeps Tryton's as text)."""
        return f"CAST({value} AS REAL)" if self.sqlite else value

    def scaled(self, value: str, scale: int) -> str:
        """``value × scale`` as an exact integer (``value`` has at most log10(scale) decimals)."""
        kind = "INTEGER" if self.sqlite else "BIGINT"
        return f"CAST(ROUND({self.number(f'COALESCE({value}, 0)')} * {scale}) AS {kind})"

    def sum(self, value: str) -> str:
        """SUM of integers as an integer (PostgreSQL's SUM of bigint is numeric, whose
        divisions would then keep decimals)."""
        return f"SUM({value})" if self.sqlite else f"CAST(SUM({value}) AS BIGINT)"

    def find(self, needle: str, text: str) -> str:
        return f"instr({text}, {needle})" if self.sqlite else f"strpos({text}, {needle})"

    def trim(self, value: str, characters: str) -> str:
        chars = self.chars(characters)
        return f"TRIM({value}, {chars})" if self.sqlite else f"BTRIM({value}, {chars})"

    def joined(self, value: str, separator: str, source: str, order: str) -> str:
        """``value`` of the rows of ``source`` joined by ``separator`` in ``order``."""
        if self.sqlite:  # no ORDER BY in aggregates before 3.44: an ordered subquery
            return (f"(SELECT group_concat(v, {separator}) FROM (SELECT {value} AS v "
                    f"FROM {source} ORDER BY {order}) AS o)")
        return f"(SELECT string_agg({value}, {separator} ORDER BY {order}) FROM {source})"

    def today(self) -> str:
        return "date('now')" if self.sqlite else "CURRENT_DATE"

    def money(self, units: str, currency: str) -> str:
        """``units`` (an integer count of the currency's rounding) as a decimal: text in
        SQLite (the ``decimal`` type reads it), numeric in PostgreSQL."""
        if self.sqlite:
            return (f"(CAST(({units}) * {currency}.unit AS TEXT) || 'E-' || "
                    f"CAST({currency}.digits AS TEXT))")
        return f"(({units}) * {currency}.rounding)"

    def percent(self, source: str) -> str:
        """The tax rates (fractions, column ``t.rate``) of ``source`` added up, in percent, as
        the text of tryton.py's ``rate.normalize()``: "2E+1" for 20, "5.5", "0" for none (the
        same text makes the same content hash whichever connector read the record)."""
        n = f"COALESCE({self.sum(self.scaled('t.rate', 10**10))}, 0)"  # the percent × 1e8
        digits = "CAST(ABS(n) AS TEXT)"
        text = (
            "CASE WHEN t = '' THEN '0' "
            # whole: "7", or "2E+1" (Python writes trailing zeros as an exponent)
            "WHEN e >= 0 THEN sg || substr(t, 1, 1) || CASE WHEN length(t) > 1 THEN '.' || "
            "substr(t, 2) ELSE '' END || CASE WHEN length(t) - 1 + e > 0 THEN 'E+' || "
            "CAST(length(t) - 1 + e AS TEXT) ELSE '' END "
            "WHEN length(t) > -e THEN sg || substr(t, 1, length(t) + e) || '.' || "
            "substr(t, length(t) + e + 1) "
            "ELSE sg || '0.' || substr('00000000', 1, -e - length(t)) || t END")
        return (f"(SELECT {text} FROM (SELECT sg, t, length(s) - length(t) - 8 AS e FROM "
                f"(SELECT CASE WHEN n < 0 THEN '-' ELSE '' END AS sg, {digits} AS s, "
                f"RTRIM({digits}, '0') AS t FROM (SELECT {n} AS n {source}) AS n1) AS n2) "
                "AS n3)")

    # --- text, as tryton.py shapes it --------------------------------------------------

    def _each_char(self, value: str, step: str) -> str:
        """SQLite: ``value`` rebuilt character by character, ``out`` := ``step`` (which sees
        ``{c}``, the character, and ``out``). A recursion rather than nested REPLACEs: SQLite's
        parser stack holds only a few dozen of those."""
        return ("(WITH RECURSIVE ch(i, s, out) AS ("
                f"SELECT 1, COALESCE({value}, ''), '' UNION ALL "
                f"SELECT i + 1, s, {step.format(c='substr(s, i, 1)')} FROM ch "
                "WHERE i <= length(s)) SELECT out FROM ch ORDER BY i DESC LIMIT 1)")

    def squeezed(self, value: str) -> str:
        """``" ".join(value.split())``: runs of white space one space, none at either end."""
        spaces = WHITESPACE.replace(" ", "")
        if self.sqlite:
            text = self._each_char(value, (
                f"out || CASE WHEN instr({self.chars(WHITESPACE)}, {{c}}) = 0 THEN {{c}} "
                "WHEN out = '' OR substr(out, -1) = ' ' THEN '' ELSE ' ' END"))
            return f"RTRIM({text}, ' ')"
        text = f"translate(COALESCE({value}, ''), {self.chars(spaces)}, '{' ' * len(spaces)}')"
        return f"BTRIM(regexp_replace({text}, ' {{2,}}', ' ', 'g'), ' ')"

    def compact(self, value: str) -> str:
        """tryton.py's ``_compact``: letters and digits only, upper case."""
        dropped = self.chars(WHITESPACE + PUNCTUATION)
        if self.sqlite:
            text = self._each_char(value, f"out || CASE WHEN instr({dropped}, {{c}}) = 0 "
                                          "THEN {c} ELSE '' END")
            return f"UPPER({text})"
        return f"UPPER(translate(COALESCE({value}, ''), {dropped}, ''))"

    def one_line(self, value: str) -> str:
        """tryton.py's ``_one_line``: the non-blank lines, stripped, joined by ", "."""
        newline = self.chars("\n")
        text = f"REPLACE(COALESCE({value}, ''), {self.chars(chr(13) + chr(10))}, {newline})"
        if self.sqlite:
            for char in LINE_BREAKS:
                if char != "\n":
                    text = f"REPLACE({text}, {self.chars(char)}, {newline})"
        else:
            text = (f"translate({text}, {self.chars(LINE_BREAKS)}, "
                    f"{self.chars(chr(10) * len(LINE_BREAKS))})")
        at = self.find(newline, "rest")
        lines = (f"lines(n, line, rest) AS (SELECT 0, '', {text} || {newline} UNION ALL "
                 f"SELECT n + 1, substr(rest, 1, {at} - 1), substr(rest, {at} + 1) "
                 f"FROM lines WHERE rest <> '')")
        stripped = self.trim("line", WHITESPACE)
        if self.sqlite:
            return (f"(WITH RECURSIVE {lines} SELECT COALESCE(group_concat(t, ', '), '') FROM "
                    f"(SELECT {stripped} AS t FROM lines WHERE n > 0 ORDER BY n) AS o "
                    "WHERE t <> '')")
        return (f"(WITH RECURSIVE {lines} SELECT COALESCE(string_agg(t, ', ' ORDER BY n), '') "
                f"FROM (SELECT n, {stripped} AS t FROM lines WHERE n > 0) AS o WHERE t <> '')")


# --- Integer arithmetic ----------------------------------------------------------------------
# Exact rounding on integers, in both dialects (integer / and % truncate towards zero in both).

def _mod(n: str, d: str) -> str:
    """n mod d in [0, d), for d > 0 (SQL's % takes the sign of n)."""
    return f"((({n}) % ({d}) + ({d})) % ({d}))"


def _div(n: str, d: str) -> str:
    """floor(n / d), for d > 0."""
    return f"((({n}) - {_mod(n, d)}) / ({d}))"


def _half_even(quotient: str, remainder: str, d: str) -> str:
    """``quotient + remainder / d`` (0 <= remainder < d) rounded half to even, as Tryton's
    ``Currency.round`` does."""
    return (f"({quotient} + CASE WHEN 2 * {remainder} > {d} THEN 1 WHEN 2 * {remainder} = {d} "
            f"AND {quotient} % 2 <> 0 THEN 1 ELSE 0 END)")


def _currencies(sql: _Sql) -> str:
    """Each currency's rounding at 8 decimals (``r8``), in units of its last digit (``unit``)."""
    r8 = sql.scaled("c.rounding", D_MONEY)
    kind = "INTEGER" if sql.sqlite else "BIGINT"
    ten_to = (f"CAST(substr('100000000', 1, CAST(9 - COALESCE(c.digits, 2) AS INTEGER)) "
              f"AS {kind})")
    return (f"cur AS (SELECT c.id, {r8} AS r8, COALESCE(c.digits, 2) AS digits, c.rounding, "
            f"{r8} / {ten_to} AS unit FROM currency_currency c)")


def _line_amounts(name: str, source: str) -> list[str]:
    """CTEs ``<name>`` → ``<name>_amounts``: each line of ``source`` (columns ``doc``, ``line``,
    ``p`` and ``q`` scaled, ``r8``) with ``b`` = p × q at 1e9 and its amount in currency units
    (``k``): ``currency.round(Decimal(str(quantity)) * unit_price)``."""
    d = "(r8 * 10)"  # the rounding at 1e9
    return [
        f"{name} AS ({source})",
        f"{name}_b AS (SELECT {name}.*, p * q AS b FROM {name})",
        f"{name}_qr AS (SELECT {name}_b.*, {_div('b', d)} AS bq, {_mod('b', d)} AS br "
        f"FROM {name}_b)",
        f"{name}_amounts AS (SELECT {name}_qr.*, {_half_even('bq', 'br', d)} AS k "
        f"FROM {name}_qr)",
    ]


def _sale_taxes(sql: _Sql) -> list[str]:
    """CTEs ending in ``sale_tax(doc, k)``: the tax of the sales whose amounts are not cached,
    as Tryton's ``TaxableMixin._get_taxes`` computes it.

    Each line's taxes (children included, those valid today) give raw amounts: a percentage
    ``unit price × quantity × rate``, a fixed one ``amount × quantity``, exact as
    ``(q, r)`` = whole units of the currency's rounding and a remainder over ``D`` =
    rounding × 1e15. Lines are grouped as Tryton groups them (same taxes, same sign of the
    base; each line alone under ``tax_rounding = 'line'``); in a group each tax's sum is
    rounded half-even, and the rounding remainder of the group, rounded, is taken back."""
    d = "(r8 * 10000000)"  # D: the rounding at 1e15
    today = sql.today()
    valid = (f"(COALESCE(t.start_date, {today}) <= {today} AND "
             f"{today} <= COALESCE(t.end_date, {today}))")
    taxes_key = sql.joined("CAST(x.tax AS TEXT)", "','",
                           '"sale_line-account_tax" x WHERE x.line = sa.line', "x.tax")
    rounding = ("COALESCE((SELECT r.tax_rounding FROM account_configuration_tax_rounding r "
                "WHERE r.company = s.company OR r.company IS NULL "
                "ORDER BY r.company IS NULL, r.id LIMIT 1), 'document')")
    return [
        "tax_tree(root, tax) AS (SELECT t.id, t.id FROM account_tax t WHERE " + valid
        # (a line's taxes count even deactivated; their children only when active: Tryton
        # reads a Many2Many without the active test, a One2Many with it)
        + " UNION ALL SELECT tt.root, t.id FROM tax_tree tt JOIN account_tax t "
          "ON t.parent = tt.tax WHERE t.active AND " + valid + ")",
        f"sale_groups AS (SELECT sa.*, CASE WHEN {rounding} = 'line' THEN "
        f"'line ' || CAST(sa.line AS TEXT) ELSE COALESCE({taxes_key}, '') || "
        "CASE WHEN sa.b >= 0 THEN ' +' ELSE ' -' END END AS grp "
        "FROM sale_lines_amounts sa JOIN sale_sale s ON s.id = sa.doc)",
        "tax_raw AS (SELECT sg.doc, sg.grp, sg.r8, tt.tax, "
        "CASE WHEN t.type = 'percentage' THEN sg.b ELSE sg.q * 10000 END AS x, "
        f"CASE WHEN t.type = 'percentage' THEN {sql.scaled('t.rate', D_RATE)} "
        f"ELSE {sql.scaled('t.amount', D_RATE)} END AS y "
        "FROM sale_groups sg JOIN \"sale_line-account_tax\" lx ON lx.line = sg.line "
        "JOIN tax_tree tt ON tt.root = lx.tax JOIN account_tax t ON t.id = tt.tax "
        "WHERE t.type IN ('percentage', 'fixed'))",
        # |x| × |y| / D as (q, r) without overflowing 64 bits: x is cut at SPLIT (1e7), and
        # D / 1e7 is r8.
        f"tax_parts AS (SELECT doc, grp, r8, tax, CASE WHEN (x < 0) <> (y < 0) THEN -1 "
        f"ELSE 1 END AS sg, (ABS(x) / {SPLIT}) * ABS(y) AS h, (ABS(x) % {SPLIT}) * ABS(y) AS l "
        "FROM tax_raw)",
        f"tax_line AS (SELECT doc, grp, r8, tax, sg * (h / r8 + ((h % r8) * {SPLIT} + l) / "
        f"{d}) AS q, sg * (((h % r8) * {SPLIT} + l) % {d}) AS r FROM tax_parts)",
        f"tax_sum AS (SELECT doc, grp, tax, MAX(r8) AS r8, {sql.sum('q')} AS q, "
        f"{sql.sum('r')} AS r "
        "FROM tax_line GROUP BY doc, grp, tax)",
        f"tax_norm AS (SELECT doc, grp, r8, q + {_div('r', d)} AS q, {_mod('r', d)} AS r "
        "FROM tax_sum)",
        f"tax_round AS (SELECT doc, grp, r8, {_half_even('q', 'r', d)} AS k, q, r "
        "FROM tax_norm)",
        f"tax_group AS (SELECT doc, grp, MAX(r8) AS r8, {sql.sum('k')} AS k, "
        f"{sql.sum(f'(k - q) * {d} - r')} AS c FROM tax_round GROUP BY doc, grp)",
        f"tax_group_qr AS (SELECT doc, k, r8, {_div('c', d)} AS cq, {_mod('c', d)} AS cr "
        "FROM tax_group)",
        f"sale_tax AS (SELECT doc, {sql.sum('k - ' + _half_even('cq', 'cr', d))} AS k "
        "FROM tax_group_qr GROUP BY doc)",
    ]


def _with(ctes: list[str]) -> str:
    return "WITH RECURSIVE " + ",\n".join(ctes) + "\n"


# --- Streams ---------------------------------------------------------------------------------

def _parties(sql: _Sql) -> dict[str, Any]:
    named = f"{sql.trim('COALESCE(m.name, ' + chr(39) * 2 + ')', WHITESPACE)} <> ''"

    def first_address(condition: str, order: str) -> str:
        return (f"(SELECT a.id FROM party_address a WHERE a.party = p.id AND a.active "
                f"{condition} ORDER BY {order}a.sequence, a.id LIMIT 1)")

    def identifier(kind: str) -> str:
        code = (f"(SELECT i.code FROM party_identifier i WHERE i.party = p.id AND i.active "
                f"AND i.type = '{kind}' ORDER BY i.sequence, i.id LIMIT 1)")
        return f"NULLIF({sql.compact(code)}, '')"

    def channel(kind: str) -> str:
        return (f"COALESCE((SELECT m.value FROM party_contact_mechanism m WHERE m.party = p.id "
                f"AND m.active AND m.type = '{kind}' AND m.value IS NOT NULL AND m.value <> '' "
                f"ORDER BY CASE WHEN {named} THEN 1 ELSE 0 END, m.sequence, m.id LIMIT 1), '')")

    def address(prefix: str, alias: str, country: str) -> list[str]:
        return [f"{sql.one_line(f'{alias}.street_unstructured')} AS {prefix}street",
                f"COALESCE({alias}.postal_code, '') AS {prefix}postal_code",
                f"COALESCE({alias}.city, '') AS {prefix}city",
                f"COALESCE({country}.code, '') AS {prefix}country"]

    siren, siret = identifier("fr_siren"), identifier("fr_siret")
    changes = [f"(SELECT MAX({_changed('c')}) FROM {table} c WHERE c.party = p.id)"
               for table in ("party_address", "party_contact_mechanism", "party_identifier")]
    columns = [
        "p.id", "COALESCE(p.name, '') AS name", "COALESCE(p.code, '') AS code",
        "COALESCE(p.active, FALSE) AS active",
        f"COALESCE({siren}, substr(COALESCE({siret}, ''), 1, 9)) AS siren",
        f"COALESCE({siret}, '') AS siret",
        f"COALESCE({identifier('eu_vat')}, {identifier('fr_vat')}, '') AS vat",
        *address("", "ba", "bc"), *address("delivery_", "da", "dc"),
        *(f"{channel(kind)} AS {kind}" for kind in CHANNEL_KINDS),
        f"{sql.latest(_changed('p'), *changes)} AS changed_at",
    ]
    # The first invoice address, else the first address; the first delivery one (an address
    # flagged for both is an invoice address, as tryton.py's "kind" says).
    billing = first_address("", "CASE WHEN a.invoice THEN 0 ELSE 1 END, ")
    delivery = first_address("AND a.delivery AND NOT COALESCE(a.invoice, FALSE)", "")
    query = (f"SELECT {', '.join(columns)}\nFROM party_party p\n"
             f"LEFT JOIN party_address ba ON ba.id = {billing}\n"
             "LEFT JOIN country_country bc ON bc.id = ba.country\n"
             f"LEFT JOIN party_address da ON da.id = {delivery}\n"
             "LEFT JOIN country_country dc ON dc.id = da.country\n"
             f"WHERE p.id NOT IN {_own_parties()}")
    kind = ", ".join(f"'{k}'" for k in CHANNEL_KINDS)
    return {
        "query": query, "key": "id", "cursor": "changed_at", "cursor_tiebreak": "id",
        "omit": ["changed_at"], "types": {"active": "bool"},
        "deleted_query": f"SELECT id FROM party_party WHERE id NOT IN {_own_parties()}",
        "census": [f"SELECT party, id FROM {table}" for table in (
            "party_address", "party_contact_mechanism", "party_identifier")],
        "children": {
            "addresses": {
                "query": "SELECT a.party AS parent, a.sequence AS seq, a.id, CASE WHEN "
                         "a.invoice THEN 'billing' WHEN a.delivery THEN 'delivery' ELSE "
                         "'other' END AS kind, COALESCE(a.party_name, '') AS name, "
                         "COALESCE(a.street_unstructured, '') AS street, "
                         "COALESCE(a.postal_code, '') AS postcode, COALESCE(a.city, '') AS city, "
                         "COALESCE(c.code, '') AS country FROM party_address a "
                         "LEFT JOIN country_country c ON c.id = a.country WHERE a.active",
                "parent": "parent", "order": ["seq", "id"], "omit": ["seq", "id"]},
            "channels": {
                "query": f"SELECT m.party AS parent, m.sequence AS seq, m.id, CASE WHEN m.type "
                         f"IN ({kind}) THEN m.type ELSE 'other' END AS kind, "
                         "COALESCE(m.value, '') AS value, '' AS name "
                         f"FROM party_contact_mechanism m WHERE m.active AND NOT ({named})",
                "parent": "parent", "order": ["seq", "id"], "omit": ["seq", "id"]},
            "identifiers": {
                "query": "SELECT i.party AS parent, i.sequence AS seq, i.id, "
                         "COALESCE(i.type, '') AS type, COALESCE(i.code, '') AS value "
                         "FROM party_identifier i WHERE i.active",
                "parent": "parent", "order": ["seq", "id"], "omit": ["seq", "id"]},
        },
    }


def _contacts(sql: _Sql) -> dict[str, Any]:
    """One contact per party and name (white space squeezed, case folded) among the active
    named contact mechanisms, keyed by the oldest mechanism."""
    name = sql.squeezed("m.name")
    space = sql.find("' '", "hn.name")
    named = ("SELECT x.*, LOWER(x.name) AS folded FROM (SELECT m.id, m.party, m.type, "
             f"m.value, m.active, {name} AS name, {_changed('m')} AS changed "
             "FROM party_contact_mechanism m WHERE m.name IS NOT NULL AND m.name <> '' "
             f"AND m.party NOT IN {_own_parties()}) AS x")
    heads = ("SELECT party, folded, MIN(id) AS id FROM named WHERE active AND name <> '' "
             "GROUP BY party, folded")

    def first(kind: str) -> str:
        return (f"COALESCE((SELECT COALESCE(n.value, '') FROM named n WHERE n.party = h.party "
                f"AND n.folded = h.folded AND n.active AND n.type = '{kind}' "
                "ORDER BY n.id LIMIT 1), '')")

    query = (f"WITH named AS ({named}), heads AS ({heads})\n"
             "SELECT h.id, h.party, hn.name, "
             f"CASE WHEN {space} > 0 THEN substr(hn.name, 1, {space} - 1) ELSE '' END "
             "AS first_name, "
             f"CASE WHEN {space} > 0 THEN substr(hn.name, {space} + 1) ELSE hn.name END "
             f"AS last_name, {first('email')} AS email, {first('phone')} AS phone, "
             f"{first('mobile')} AS mobile, (SELECT MAX(n.changed) FROM named n "
             "WHERE n.party = h.party AND n.folded = h.folded) AS changed_at\n"
             "FROM heads h JOIN named hn ON hn.id = h.id")
    deleted = ("SELECT MIN(id) AS id FROM named WHERE active AND name <> '' "
               "GROUP BY party, folded")
    return {"query": query, "key": "id", "key_prefix": "party.contact_mechanism,",
            "cursor": "changed_at", "cursor_tiebreak": "id", "omit": ["changed_at"],
            "deleted_query": f"WITH named AS ({named}) {deleted}"}


def _products(sql: _Sql) -> dict[str, Any]:
    # Template.list_price for the first company: its price without product, the company's
    # before the one of no company.
    price = ("FROM product_list_price lp WHERE lp.template = t.id AND lp.product IS NULL "
             "AND (lp.company = (SELECT MIN(co.id) FROM company_company co) "
             "OR lp.company IS NULL)")
    changed = sql.latest(_changed("pp"), _changed("t"),
                         f"(SELECT MAX({_changed('lp')}) {price})")
    query = ("SELECT pp.id, COALESCE(pp.code, '') AS code, COALESCE(t.name, '') AS name, "
             "COALESCE(pp.active, FALSE) AS active, "
             f"(SELECT lp.list_price {price} ORDER BY lp.company IS NULL, lp.id LIMIT 1) "
             "AS list_price, COALESCE(u.name, '') AS unit, COALESCE(t.type, '') AS type, "
             f"{changed} AS changed_at\n"
             "FROM product_product pp LEFT JOIN product_template t ON t.id = pp.template "
             "LEFT JOIN product_uom u ON u.id = t.default_uom")
    return {"query": query, "key": "id", "cursor": "changed_at", "cursor_tiebreak": "id",
            "omit": ["changed_at"], "types": {"active": "bool", "list_price": "decimal"},
            "deleted_query": "SELECT id FROM product_product"}


def _price_lists(sql: _Sql) -> dict[str, Any]:
    return {"query": "SELECT 'list_price' AS id, COALESCE((SELECT NULLIF(c.code, '') "
                     "FROM company_company co JOIN currency_currency c ON c.id = co.currency "
                     "ORDER BY co.id LIMIT 1), 'EUR') AS currency",
            "key": "id", "deleted_query": "SELECT 'list_price'"}


def _lines(sql: _Sql, table: str, parent: str) -> dict[str, Any]:
    """A document's ``line`` lines, in Tryton's order, with their VAT rate in percent."""
    rate = sql.percent(f'FROM "{table}-account_tax" x JOIN account_tax t ON t.id = x.tax '
                       "WHERE x.line = l.id AND t.type = 'percentage'")
    return {"query": f"SELECT l.{parent} AS parent, l.sequence AS seq, l.id, l.product, "
                     "COALESCE(l.description, '') AS description, l.quantity, l.unit_price, "
                     f"{rate} AS tax_rate FROM {table} l WHERE l.type = 'line'",
            "parent": "parent", "order": ["seq", "id"], "omit": ["seq"],
            "types": {"quantity": "float", "unit_price": "decimal", "tax_rate": "decimal"}}


def _sales(sql: _Sql) -> dict[str, Any]:
    states = ", ".join(f"'{s}'" for s in SALE_CACHED_STATES)
    cached = (f"(s.state IN ({states}) AND s.untaxed_amount_cache IS NOT NULL AND "
              "s.tax_amount_cache IS NOT NULL AND s.total_amount_cache IS NOT NULL)")
    lines = (f"SELECT l.sale AS doc, l.id AS line, {sql.scaled('l.unit_price', D_PRICE)} AS p, "
             f"{sql.scaled('l.quantity', D_QUANTITY)} AS q, cur.r8 FROM sale_line l "
             "JOIN sale_sale s ON s.id = l.sale JOIN cur ON cur.id = s.currency "
             f"WHERE l.type = 'line' AND NOT {cached}")
    ctes = [_currencies(sql), *_line_amounts("sale_lines", lines), *_sale_taxes(sql),
            f"sale_untaxed AS (SELECT doc, {sql.sum('k')} AS k FROM sale_lines_amounts "
            "GROUP BY doc)"]
    untaxed, tax = "COALESCE(su.k, 0)", "COALESCE(st.k, 0)"

    def amount(cache: str, units: str, none: str) -> str:
        # Tryton sums from Decimal(0): without a line (a tax) the amount is "0", not "0.00"
        return (f"CASE WHEN {cached} THEN s.{cache} WHEN {none} THEN '0' "
                f"ELSE {sql.money(units, 'cur')} END")

    no_amount = "su.k IS NULL AND st.k IS NULL"
    changed = sql.latest(_changed("s"),
                         f"(SELECT MAX({_changed('l')}) FROM sale_line l WHERE l.sale = s.id)")
    query = (_with(ctes)
             + "SELECT s.id, COALESCE(s.number, '') AS number, "
               "'#' || CAST(s.id AS TEXT) AS draft_ref, COALESCE(s.reference, '') AS reference, "
               "COALESCE(s.description, '') AS description, COALESCE(s.state, '') AS state, "
               "s.sale_date, s.quotation_date, s.party, COALESCE(cc.code, '') AS currency, "
               f"{amount('untaxed_amount_cache', untaxed, 'su.k IS NULL')} AS untaxed_amount, "
               f"{amount('tax_amount_cache', tax, 'st.k IS NULL')} AS tax_amount, "
               f"{amount('total_amount_cache', f'{untaxed} + {tax}', no_amount)} "
               f"AS total_amount, {changed} AS changed_at\n"
               "FROM sale_sale s LEFT JOIN cur ON cur.id = s.currency "
               "LEFT JOIN currency_currency cc ON cc.id = s.currency "
               "LEFT JOIN sale_untaxed su ON su.doc = s.id LEFT JOIN sale_tax st ON st.doc = s.id")
    return {"query": query, "key": "id", "key_prefix": "sale.sale,", "cursor": "changed_at",
            "cursor_tiebreak": "id", "omit": ["changed_at"],
            "types": {"sale_date": "date", "quotation_date": "date",
                      **dict.fromkeys(("untaxed_amount", "tax_amount", "total_amount"),
                                      "decimal")},
            "deleted_query": "SELECT id FROM sale_sale",
            "census": ["SELECT sale, id FROM sale_line"],
            "children": {"lines": _lines(sql, "sale_line", "sale")}}


def _invoices(sql: _Sql) -> dict[str, Any]:
    cached = ("(i.untaxed_amount_cache IS NOT NULL AND i.tax_amount_cache IS NOT NULL AND "
              "i.total_amount_cache IS NOT NULL)")
    lines = (f"SELECT l.invoice AS doc, l.id AS line, "
             f"{sql.scaled('l.unit_price', D_PRICE)} AS p, "
             f"{sql.scaled('l.quantity', D_QUANTITY)} AS q, cur.r8 FROM account_invoice_line l "
             "JOIN account_invoice i ON i.id = l.invoice JOIN cur ON cur.id = i.currency "
             f"WHERE l.type = 'line' AND i.type = 'out' AND NOT {cached}")
    # The lines to pay: the invoice's move lines (and its additional moves') on its account.
    to_pay = ("SELECT i.id AS invoice, ml.id, ml.maturity_date, ml.reconciliation, "
              "ml.second_currency, ml.amount_second_currency, ml.debit, ml.credit "
              "FROM account_invoice i JOIN account_move_line ml ON ml.move = i.move "
              "AND ml.account = i.account WHERE i.type = 'out' "
              "UNION SELECT i.id, ml.id, ml.maturity_date, ml.reconciliation, "
              "ml.second_currency, ml.amount_second_currency, ml.debit, ml.credit "
              "FROM account_invoice i JOIN \"account_invoice-additional-account_move\" am "
              "ON am.invoice = i.id JOIN account_move_line ml ON ml.move = am.move "
              "AND ml.account = i.account WHERE i.type = 'out'")
    payments = ("SELECT x.invoice, ml.id, ml.maturity_date, ml.reconciliation, "
                "ml.second_currency, ml.amount_second_currency, ml.debit, ml.credit "
                "FROM \"account_invoice-account_move_line\" x "
                "JOIN account_move_line ml ON ml.id = x.line")
    second = "ml.second_currency IS NOT NULL AND ml.second_currency = i.currency"
    s2_line = sql.scaled("ml.amount_second_currency", D_MONEY)
    s1_line = f"{sql.scaled('ml.debit', D_MONEY)} - {sql.scaled('ml.credit', D_MONEY)}"
    open_lines = ("SELECT ml.invoice, "
                  f"{sql.sum(f'CASE WHEN {second} THEN {s2_line} ELSE 0 END')} AS s2, "
                  f"{sql.sum(f'CASE WHEN {second} THEN 0 ELSE {s1_line} END')} AS s1, "
                  f"{sql.sum(f'CASE WHEN {second} THEN 1 ELSE 0 END')} AS n2 "
                  f"FROM (SELECT * FROM lines_to_pay UNION ALL {payments}) AS ml "
                  "JOIN account_invoice i ON i.id = ml.invoice "
                  "WHERE ml.reconciliation IS NULL GROUP BY ml.invoice")
    ctes = [_currencies(sql), *_line_amounts("invoice_lines", lines),
            f"invoice_untaxed AS (SELECT doc, {sql.sum('k')} AS k FROM invoice_lines_amounts "
            "GROUP BY doc)",
            # Tryton adds the tax lines up (floats in SQLite) and rounds to the currency.
            f"invoice_tax8 AS (SELECT x.invoice AS doc, cur.r8, "
            f"{sql.sum(sql.scaled('x.amount', D_MONEY))} AS t FROM account_invoice_tax x "
            "JOIN account_invoice i ON i.id = x.invoice JOIN cur ON cur.id = i.currency "
            f"WHERE NOT {cached} GROUP BY x.invoice, cur.r8)",
            f"invoice_tax AS (SELECT doc, {_half_even(_div('t', 'r8'), _mod('t', 'r8'), 'r8')} "
            "AS k FROM invoice_tax8)",
            f"lines_to_pay AS ({to_pay})",
            f"open_lines AS ({open_lines})"]
    untaxed, tax = "COALESCE(iu.k, 0)", "COALESCE(it.k, 0)"
    total = f"{untaxed} + {tax}"
    s1 = "COALESCE(ol.s1, 0)"
    rounded_s1 = _half_even(_div(s1, "cur.r8"), _mod(s1, "cur.r8"), "cur.r8")
    to_pay_units = f"(COALESCE(ol.s2, 0) / cur.r8 + {rounded_s1})"

    def amount(cache: str, units: str) -> str:
        return f"CASE WHEN {cached} THEN i.{cache} ELSE {sql.money(units, 'cur')} END"

    negative = (f"CASE WHEN {cached} THEN {sql.number('i.total_amount_cache')} < 0 "
                f"ELSE {total} < 0 END")
    zero = (f"CASE WHEN {cached} THEN {sql.number('i.total_amount_cache')} = 0 "
            f"ELSE {total} = 0 END")
    positive_line = ("EXISTS (SELECT 1 FROM account_invoice_line l WHERE l.invoice = i.id "
                     f"AND l.type = 'line' AND COALESCE(l.quantity, 0) * "
                     f"{sql.number('COALESCE(l.unit_price, 0)')} > 0)")
    payment = sql.greatest(_changed("x"), f"COALESCE({_changed('ml')}, {EPOCH})")
    changes = [
        f"(SELECT MAX({_changed('l')}) FROM account_invoice_line l WHERE l.invoice = i.id)",
        f"(SELECT MAX({_changed('x')}) FROM account_invoice_tax x WHERE x.invoice = i.id)",
        f"(SELECT MAX({_changed('ml')}) FROM account_move_line ml WHERE ml.move = i.move)",
        f"(SELECT MAX({payment}) FROM \"account_invoice-account_move_line\" x "
        "LEFT JOIN account_move_line ml ON ml.id = x.line WHERE x.invoice = i.id)",
    ]
    query = (_with(ctes)
             + "SELECT i.id, COALESCE(i.number, '') AS number, "
               "'#' || CAST(i.id AS TEXT) AS draft_ref, COALESCE(i.reference, '') AS reference, "
               "COALESCE(i.description, '') AS description, COALESCE(i.state, '') AS state, "
               "i.invoice_date, COALESCE((SELECT MIN(tp.maturity_date) FROM lines_to_pay tp "
               "WHERE tp.invoice = i.id), i.payment_term_date) AS due_date, i.party, "
               "COALESCE(NULLIF(i.sequence_type_cache, ''), CASE WHEN "
               f"{negative} AND NOT {positive_line} THEN 'credit_note' ELSE 'invoice' END) "
               "AS sequence_type, COALESCE(cc.code, '') AS currency, "
               f"{amount('untaxed_amount_cache', untaxed)} AS untaxed_amount, "
               f"{amount('tax_amount_cache', tax)} AS tax_amount, "
               # tryton.py reads "total_amount or Decimal(0)": a zero total is "0"
               f"CASE WHEN {zero} THEN '0' ELSE {amount('total_amount_cache', total)} END "
               "AS total_amount, "
               # Tryton sums from Decimal(0), and adds the company-currency part only when
               # it is not zero: "0" rather than "0.00" when nothing was added.
               f"CASE WHEN i.state <> 'posted' OR (COALESCE(ol.n2, 0) = 0 AND {s1} = 0) "
               f"THEN '0' ELSE {sql.money(to_pay_units, 'cur')} END AS amount_to_pay, "
               f"{sql.latest(_changed('i'), *changes)} AS changed_at\n"
               "FROM account_invoice i LEFT JOIN cur ON cur.id = i.currency "
               "LEFT JOIN currency_currency cc ON cc.id = i.currency "
               "LEFT JOIN invoice_untaxed iu ON iu.doc = i.id "
               "LEFT JOIN invoice_tax it ON it.doc = i.id "
               "LEFT JOIN open_lines ol ON ol.invoice = i.id\n"
               "WHERE i.type = 'out'")
    return {"query": query, "key": "id", "key_prefix": "account.invoice,",
            "cursor": "changed_at", "cursor_tiebreak": "id", "omit": ["changed_at"],
            "types": {"invoice_date": "date", "due_date": "date",
                      **dict.fromkeys(("untaxed_amount", "tax_amount", "total_amount",
                                       "amount_to_pay"), "decimal")},
            "deleted_query": "SELECT id FROM account_invoice WHERE type = 'out'",
            "census": ["SELECT invoice, id FROM account_invoice_line"],
            "children": {"lines": _lines(sql, "account_invoice_line", "invoice")}}


def tryton_streams(dialect: Dialect) -> dict[str, Any]:
    """The ``streams`` parameter of the ``sql`` connector reading a Tryton 8 database
    (``sqlite`` or ``postgresql``): the ``tryton`` connector's streams, record for record."""
    if dialect not in ("sqlite", "postgresql"):
        raise ConfigError(f"Tryton database: unknown SQL dialect {dialect!r} "
                          "(sqlite or postgresql)")
    sql = _Sql(dialect)
    return {"parties": _parties(sql), "contacts": _contacts(sql), "products": _products(sql),
            "price_lists": _price_lists(sql), "sales": _sales(sql),
            "invoices": _invoices(sql)}


def url_dialect(url: str) -> Dialect:
    """The dialect of a database URL (the URL itself is checked when it is opened)."""
    scheme = str(url or "").strip().partition(":")[0].lower()
    return "postgresql" if scheme in ("postgresql", "postgres") else "sqlite"


@register
class TrytonSqlConnector(SqlConnector):
    """Tryton read from its database: the ``sql`` connector with :func:`tryton_streams`."""

    name = "tryton-sql"
    label = "Tryton ERP (database)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "url": Parameter("Database URL", kind="secret",
                         help="Tryton's database: postgresql://user:password@host:port/db "
                              "or sqlite:///absolute/path.sqlite (opened read-only). Use a "
                              "user that can only read."),
        "page_size": Parameter("Rows per query", required=False, default=DEFAULT_PAGE_SIZE,
                               kind="int"),
    }
    sensitive_parameters = frozenset({"url"})

    @classmethod
    def validate_parameters(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """The page size; the streams are ours, the URL is checked when used."""
        out = super(SqlConnector, cls).validate_parameters(params)
        _page_size(out["page_size"])
        return out

    @property
    def dialect(self) -> Dialect:
        return url_dialect(str(self.params["url"]))

    def stream_settings(self) -> Any:
        return tryton_streams(self.dialect)
