"""Seed a freshly created Tryton 8 database with French sample data.

Runs with **Tryton's** Python (``.venv-tryton/bin/python tryton_seed.py --config … --database …
--profile small``), never Comptoir's: it imports proteus and trytond only. The harness
(``comptoir.testing.tryton``) runs it once per cache key and copies the result for each test.

Set-up records (company, chart, fiscal years, taxes, products) go through proteus and Tryton's
own test tools, as a user of the client would; the volume (parties, sales, invoices) is created
with trytond's ORM directly inside one transaction per batch, which is an order of magnitude
faster than one proteus call per record. Batches keep the same keys in every record and stay
small (SQLite's parser limit on one statement).

Profiles:

* ``small`` (tests): about 20 parties, 8 service products, 12 sales (4 left as draft or
  quotation, 8 confirmed with ``invoice_method = 'order'``), their 8 invoices (7 posted, one left
  in draft, one posted invoice paid in part, one paid in full) and one posted credit note.
* ``bench``: 10,000 parties, 50 products, 1,000 sales in quotation, and 5,000 customer invoices
  of 10 lines each (50,000 lines) created directly: posting costs too much, so 4,000 stay in
  draft, 900 are validated and 100 are posted.

Dates are fixed in 2025 so the data does not depend on the day it is built; a fiscal year is also
opened for the current year so that a test can post today.
"""

from __future__ import annotations

import argparse
import datetime
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

PROFILES: dict[str, dict[str, int]] = {
    "small": {"parties": 20, "persons": 4, "products": 8, "sales": 12, "sales_confirmed": 8,
              "invoices": 0, "invoice_lines": 0, "batch": 25},
    "bench": {"parties": 10_000, "persons": 1_500, "products": 50, "sales": 1_000,
              "sales_confirmed": 0, "invoices": 5_000, "invoice_lines": 10, "batch": 50},
}
DATA_YEAR = 2025
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[seed {time.monotonic() - _T0:7.2f}s] {message}", flush=True)


# --- French-looking data -------------------------------------------------------------------------

CITIES = [
    ("75011", "Paris"), ("69003", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"),
    ("44000", "Nantes"), ("33000", "Bordeaux"), ("59000", "Lille"), ("35000", "Rennes"),
    ("67000", "Strasbourg"), ("34000", "Montpellier"), ("06000", "Nice"), ("38000", "Grenoble"),
    ("21000", "Dijon"), ("49000", "Angers"), ("37000", "Tours"), ("63000", "Clermont-Ferrand"),
]
STREETS = [
    "rue de la République", "avenue Jean Jaurès", "boulevard Voltaire", "rue Victor Hugo",
    "place du Marché", "rue des Écoles", "chemin des Vignes", "rue Pasteur", "allée des Tilleuls",
    "quai de la Loire", "rue du Général Leclerc", "impasse des Lilas",
]
TRADES = [
    "Boulangerie", "Menuiserie", "Garage", "Cabinet", "Atelier", "Librairie", "Pharmacie",
    "Imprimerie", "Fromagerie", "Plomberie", "Transports", "Brasserie", "Jardinerie", "Studio",
]
SURNAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
]
FIRST_NAMES = [
    "Jean", "Marie", "Pierre", "Camille", "Luc", "Sophie", "Hélène", "Nicolas", "Julie", "Paul",
    "Claire", "Antoine", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Émile",
]
LEGAL_FORMS = ["SARL", "SAS", "SA", "EURL", "SASU", ""]
SERVICES = [
    ("CONS-J", "Conseil (jour)", "850.00"), ("FORM-J", "Formation (jour)", "1200.00"),
    ("AUDIT", "Audit de sécurité", "3900.00"), ("MAINT-M", "Maintenance mensuelle", "249.90"),
    ("DEV-H", "Développement (heure)", "95.00"), ("SUPP-A", "Support annuel", "1490.00"),
    ("INST", "Installation sur site", "450.00"), ("HEBERG", "Hébergement (mois)", "39.99"),
]


def siren(rng: random.Random) -> str:
    """A valid SIREN: 8 random digits and the Luhn check digit (Tryton validates it)."""
    body = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
    for check in range(10):
        digits = [*body, check]
        total = 0
        for position, digit in enumerate(reversed(digits)):
            if position % 2:
                digit *= 2
                if digit > 9:
                    digit -= 9
            total += digit
        if total % 10 == 0:
            return "".join(map(str, digits))
    raise AssertionError("unreachable")


def slug(text: str) -> str:
    table = str.maketrans("àâäéèêëîïôöùûüç", "aaaeeeeiioouuuc")
    return "".join(c if c.isalnum() else "-" for c in text.lower().translate(table)).strip("-")


def party_values(index: int, rng: random.Random, *, person: bool, country: int) -> dict[str, Any]:
    """One party with the same keys whatever its kind (batch ``create`` needs that)."""
    postal_code, city = rng.choice(CITIES)
    street = f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
    mechanisms: list[dict[str, Any]] = []
    identifiers: list[dict[str, Any]] = []
    if person:
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        name = f"{last} {first}"
        email = f"{slug(first)}.{slug(last)}{index}@exemple.fr"
        mechanisms.append({"type": "email", "value": email})
        mechanisms.append({"type": "mobile", "value": f"06 {rng.randint(10, 99)} "
                           f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"})
    else:
        form = rng.choice(LEGAL_FORMS)
        name = f"{rng.choice(TRADES)} {rng.choice(SURNAMES)}" + (f" {form}" if form else "")
        if index % 97 == 0:
            name += f" ({city})"  # a few homonyms get a suffix, as people do
        domain = f"{slug(name)}-{index}.fr"
        mechanisms.append({"type": "email", "value": f"contact@{domain}"})
        mechanisms.append({"type": "phone", "value": f"+33 {rng.randint(1, 5)} "
                           f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
                           f"{rng.randint(10, 99)}"})
        if index % 3 == 0:
            mechanisms.append({"type": "website", "value": f"https://www.{domain}"})
        if index % 10 != 7:  # most companies have a SIREN, not all
            identifiers.append({"type": "fr_siren", "code": siren(rng)})
    return {
        "name": name,
        # street_unstructured is what the ``street`` function field writes to, without the
        # setter's extra write per address (a third of the cost of creating a party)
        "addresses": [("create", [{"street_unstructured": street, "postal_code": postal_code,
                                   "city": city, "country": country}])],
        "contact_mechanisms": [("create", mechanisms)],
        "identifiers": [("create", identifiers)],
    }


def day_of_year(rng: random.Random, *, last: int = 320) -> datetime.date:
    return datetime.date(DATA_YEAR, 1, 1) + datetime.timedelta(days=rng.randint(0, last))


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- Seeding --------------------------------------------------------------------------------------

class Seeder:
    def __init__(self, database: str, config_file: str, profile: str) -> None:
        from proteus import config as pconfig

        self.sizes = PROFILES[profile]
        self.rng = random.Random(f"comptoir-{profile}")
        self.database = database
        self.config = pconfig.set_trytond(database=database, config_file=config_file)
        self.config.skip_warning = True  # past payment dates are the point of old invoices
        log(f"proteus connected to {database!r}")

    def run(self, work: Callable[[Any], Any]) -> Any:
        """``work(pool)`` in one ORM transaction, retried as trytond asks (record locks), then
        the tasks it queued (sale processing…) except invoice printing, which is slow and
        useless here. ``work`` must not change ``self``: it may run twice."""
        from trytond.pool import Pool
        from trytond.transaction import Transaction, TransactionError
        from trytond.worker import run_task

        context = dict(self.config.context, _skip_warnings=True, queue_batch=False)
        extras: dict[str, Any] = {}
        while True:
            with Transaction().start(self.database, self.config.user, context=context,
                                     **extras) as tx:
                try:
                    pool = Pool()
                    result = work(pool)
                    Queue = pool.get("ir.queue")
                    tasks = Queue.browse(list(tx.tasks))
                    skipped = [t for t in tasks
                               if (t.data or {}).get("method") == "print_invoice"]
                    Queue.delete(skipped)
                    pending = [t.id for t in tasks if t not in skipped]
                except TransactionError as error:
                    tx.rollback()
                    tx.tasks.clear()
                    error.fix(extras)
                    continue
                tx.tasks.clear()
                tx.commit()
            break
        for task_id in pending:
            run_task(self.database, task_id)
        return result

    def setup(self) -> None:
        from proteus import Model
        from trytond.modules.account.tests.tools import (
            create_chart,
            create_fiscalyear,
            create_tax,
            get_accounts,
        )
        from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences
        from trytond.modules.company.tests.tools import create_company, get_company

        Country = Model.get("country.country")
        Currency = Model.get("currency.currency")
        Rate = Model.get("currency.currency.rate")
        Party = Model.get("party.party")

        self.fr = Country(name="France", code="FR", code3="FRA", code_numeric="250")
        self.fr.save()
        eur = Currency(name="Euro", symbol="€", code="EUR", numeric_code="978",
                       rounding=Decimal("0.01"))
        eur.save()
        Rate(date=datetime.date(2000, 1, 1), rate=Decimal(1), currency=eur).save()

        company_party = Party(name="Comptoir Démo SAS")
        address = company_party.addresses[0]
        address.street, address.postal_code, address.city = "8 rue du Faubourg", "75010", "Paris"
        address.country = self.fr
        company_party.identifiers.new(type="fr_siren", code=siren(self.rng))
        company_party.save()
        create_company(company_party, eur)
        company = get_company()
        create_chart(company)
        log("company (EUR) and chart of accounts created")

        for year in sorted({DATA_YEAR, datetime.date.today().year}):
            fiscalyear = create_fiscalyear(
                company, (datetime.date(year, 1, 1), datetime.date(year, 12, 31)))
            set_fiscalyear_invoice_sequences(fiscalyear)
            fiscalyear.click("create_period")
        log("fiscal years created")

        accounts = get_accounts(company)
        self.accounts = accounts
        taxes = []
        for rate, label in ((Decimal(".20"), "TVA 20 %"), (Decimal(".055"), "TVA 5,5 %")):
            tax = create_tax(rate, company)
            tax.name = tax.description = label
            tax.save()
            taxes.append(tax)
        self.tax20, self.tax55 = taxes

        Journal = Model.get("account.journal")
        PaymentMethod = Model.get("account.invoice.payment.method")
        cash_journal, = Journal.find([("type", "=", "cash")])
        self.payment_method = PaymentMethod(name="Virement", journal=cash_journal,
                                            credit_account=accounts["cash"],
                                            debit_account=accounts["cash"])
        self.payment_method.save()

        PaymentTerm = Model.get("account.invoice.payment_term")
        self.payment_term = PaymentTerm(name="30 jours")
        line = self.payment_term.lines.new(type="remainder")
        line.relativedeltas.new(days=30)
        self.payment_term.save()

        Category = Model.get("product.category")
        categories = []
        for tax in (self.tax20, self.tax55):
            category = Category(name=f"Prestations {tax.name}", accounting=True,
                                account_revenue=accounts["revenue"],
                                account_expense=accounts["expense"])
            category.customer_taxes.append(tax)
            category.save()
            categories.append(category)

        Uom = Model.get("product.uom")
        Template = Model.get("product.template")
        unit, = Uom.find([("name", "=", "Unit")])
        self.unit = unit
        self.products: list[tuple[int, Decimal, int]] = []
        self.product_names: dict[int, str] = {}
        for index in range(self.sizes["products"]):
            code, name, price = SERVICES[index % len(SERVICES)]
            if index >= len(SERVICES):
                code, name = f"{code}-{index}", f"{name} {index}"
                price = str(Decimal(price) + index)
            category = categories[1] if index % 8 == 7 else categories[0]
            template = Template(name=name, code=code, type="service", salable=True,
                                default_uom=unit, list_price=Decimal(price),
                                account_category=category)
            template.save()
            product, = template.products
            tax = self.tax55 if category is categories[1] else self.tax20
            self.products.append((product.id, Decimal(price), tax.id))
            self.product_names[product.id] = name
        log(f"taxes, payment term and {len(self.products)} service products created")

    def parties(self) -> None:
        sizes, rng = self.sizes, self.rng
        total, persons = sizes["parties"], sizes["persons"]
        every = max(total // max(persons, 1), 1)
        values = [party_values(i, rng, person=(i % every == every - 1 and i // every < persons),
                               country=self.fr.id) for i in range(total)]
        self.party_ids: list[int] = []
        for batch in chunks(values, 500):
            def work(pool: Any, batch: Sequence[Any] = batch) -> list[int]:
                Party = pool.get("party.party")
                return [p.id for part in chunks(batch, sizes["batch"])
                        for p in Party.create(list(part))]
            self.party_ids.extend(self.run(work))
        log(f"{len(self.party_ids)} parties created ({persons} persons)")

    def _lines(self, count: int, *, invoice: bool) -> list[dict[str, Any]]:
        lines = []
        for _ in range(count):
            product, price, tax = self.rng.choice(self.products)
            line = {"type": "line", "product": product, "unit": self.unit.id,
                    "quantity": float(self.rng.choice([1, 1, 2, 3, 5, 10])),
                    "unit_price": price, "taxes": [("add", [tax])]}
            if invoice:
                line["account"] = self.accounts["revenue"].id
                line["description"] = self.product_names[product]
            lines.append(line)
        return lines

    def sales(self) -> None:
        sizes, rng = self.sizes, self.rng
        count, confirmed = sizes["sales"], sizes["sales_confirmed"]
        vlist = []
        for index in range(count):
            party = self.party_ids[(index * 7) % len(self.party_ids)]
            vlist.append({
                "party": party, "sale_date": day_of_year(rng, last=300),
                "payment_term": self.payment_term.id, "invoice_method": "order",
                "description": f"Commande {index + 1}",
                "reference": f"BC-{DATA_YEAR}-{index + 1:05d}",
                "lines": [("create", self._lines(rng.randint(1, 4), invoice=False))],
            })

        def work(pool: Any) -> list[int]:
            Sale = pool.get("sale.sale")
            Party = pool.get("party.party")
            ids: list[int] = []
            for part in chunks(vlist, sizes["batch"]):
                parties = Party.browse([v["party"] for v in part])
                for values, party in zip(part, parties, strict=True):
                    address = party.address_get(type="invoice")
                    values["invoice_address"] = values["shipment_address"] = address.id
                sales = Sale.create(list(part))
                ids.extend(s.id for s in sales)
            sales = Sale.browse(ids)
            drafts = count // 6 if not confirmed else (count - confirmed) // 2
            Sale.quote(sales[drafts:])
            Sale.confirm(sales[len(sales) - confirmed:] if confirmed else [])
            return ids

        self.sale_ids = self.run(work)
        log(f"{count} sales created ({confirmed} confirmed, invoiced on order)")

    def sale_invoices(self) -> None:
        """Post the invoices the confirmed sales made; pay two; credit one."""
        from proteus import Model, Wizard

        def post(pool: Any) -> list[int]:
            Invoice = pool.get("account.invoice")
            invoices = Invoice.search([("type", "=", "out")], order=[("id", "ASC")])
            for invoice in invoices:
                invoice.invoice_date = invoice.sales[0].sale_date if invoice.sales else None
            Invoice.save(invoices)
            # the last one stays in draft; a strict sequence numbers invoices in date order
            Invoice.post(sorted(invoices[:-1], key=lambda i: (i.invoice_date, i.id)))
            return [i.id for i in invoices]

        ids = self.run(post)
        log(f"{len(ids)} sale invoices, {len(ids) - 1} posted")
        if len(ids) < 4:
            return
        Invoice = Model.get("account.invoice")
        partly, fully, credited = (Invoice(i) for i in ids[:3])
        for invoice, amount in ((partly, (partly.total_amount / 2).quantize(Decimal("0.01"))),
                                (fully, fully.total_amount)):
            pay = invoice.click("pay")
            pay.form.amount = amount
            pay.form.payment_method = self.payment_method
            pay.form.date = invoice.invoice_date + datetime.timedelta(days=12)
            pay.execute("choice")
            if pay.state != "end":
                pay.form.type = "partial"
                pay.execute("pay")
        credit = Wizard("account.invoice.credit", [credited])
        credit.form.with_refund = False
        # after every numbered invoice, as the invoice sequence requires
        last_date = max(i.invoice_date for i in Invoice.find([("number", "!=", None)]))
        credit.form.invoice_date = last_date + datetime.timedelta(days=1)
        credit.execute("credit")
        note, = Invoice.find([("id", "not in", ids), ("type", "=", "out")])
        note.description = f"Avoir sur {credited.number}"
        note.save()
        note.click("post")
        log("one invoice paid in part, one in full, one credited (credit note posted)")

    def invoices(self) -> None:
        """Bench volume: invoices made directly (not from sales), mostly left unposted."""
        sizes, rng = self.sizes, self.rng
        count, per = sizes["invoices"], sizes["invoice_lines"]
        if not count:
            return
        specs = [(index, self.party_ids[(index * 13) % len(self.party_ids)],
                  day_of_year(rng), self._lines(per, invoice=True)) for index in range(count)]
        payment_term = self.payment_term.id
        created: list[int] = []
        for block in chunks(specs, 500):
            def work(pool: Any, block: Sequence[Any] = block) -> list[int]:
                Invoice = pool.get("account.invoice")
                Party = pool.get("party.party")
                Journal = pool.get("account.journal")
                journal, = Journal.search([("type", "=", "revenue")], limit=1)
                ids: list[int] = []
                for part in chunks(block, max(sizes["batch"] // 5, 1)):
                    parties = Party.browse([party for _, party, _, _ in part])
                    vlist = [{
                        "type": "out", "party": party.id,
                        "invoice_address": party.address_get(type="invoice").id,
                        "account": party.account_receivable_used.id,
                        "journal": journal.id,
                        "payment_term": payment_term,
                        "invoice_date": invoice_date,
                        "description": f"Facture de prestations {index + 1}",
                        "reference": f"REF-{index + 1:06d}",
                        "lines": [("create", lines)],
                    } for (index, _, invoice_date, lines), party in zip(part, parties, strict=True)]
                    ids.extend(i.id for i in Invoice.create(vlist))
                return ids
            created.extend(self.run(work))
            log(f"{len(created)} invoices created")

        # a strict sequence numbers invoices in date order: post the chosen ones sorted by date
        date_of = {invoice: spec[2] for invoice, spec in zip(created, specs, strict=True)}
        posted = sorted(created[:count // 50], key=lambda i: (date_of[i], i))
        validated = created[len(posted):len(posted) + count * 9 // 50]

        def validate(pool: Any) -> None:
            Invoice = pool.get("account.invoice")
            for part in chunks(validated, 100):
                Invoice.validate_invoice(Invoice.browse(part))

        self.run(validate)
        log(f"{len(validated)} invoices validated")
        for part in chunks(posted, 50):
            def post(pool: Any, part: Sequence[int] = part) -> None:
                Invoice = pool.get("account.invoice")
                Invoice.post(Invoice.browse(part))
            self.run(post)
        log(f"{len(posted)} invoices posted; {count - len(posted) - len(validated)} in draft")

    def summary(self) -> None:
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        with Transaction().start(self.database, self.config.user,
                                 context=self.config.context, readonly=True):
            pool = Pool()
            parts = []
            for model in ("party.party", "party.address", "party.contact_mechanism",
                          "party.identifier", "product.product", "sale.sale", "sale.line",
                          "account.invoice", "account.invoice.line"):
                parts.append(f"{model}={pool.get(model).search_count([])}")
            Invoice = pool.get("account.invoice")
            for state in ("draft", "validated", "posted", "paid", "cancelled"):
                parts.append(f"invoice[{state}]="
                             f"{Invoice.search_count([('state', '=', state)])}")
        log("counts: " + " ".join(parts))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="trytond configuration file")
    parser.add_argument("--database", required=True, help="database name")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="small")
    args = parser.parse_args(argv)
    seeder = Seeder(args.database, args.config, args.profile)
    seeder.setup()
    seeder.parties()
    seeder.sales()
    if seeder.sizes["sales_confirmed"]:
        seeder.sale_invoices()
    seeder.invoices()
    seeder.summary()
    log(f"profile {args.profile!r} seeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
