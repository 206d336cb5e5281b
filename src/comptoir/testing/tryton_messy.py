"""Seed a Tryton 8 database with real-world-dirty data, to test the CRM's sync against.

Runs with **Tryton's** Python, like ``tryton_seed.py`` (whose ``Seeder`` it reuses):

* ``tryton_messy.py --config … --database … --profile messy``: on the base database, the tidy
  ``Seeder.setup()`` (company, chart, fiscal years 2025 and today's, taxes 20 % and 5.5 %,
  payment term, 8 service products) then the messy data set below;
* ``tryton_messy.py --config … --database … --changes``: the change set, once, on a database
  seeded with ``--profile messy`` (``comptoir.testing.tryton.apply_messy_changes``).

Both print a summary (``[messy] …`` lines: which party id carries which oddity). Everything is
fixed (hand-written tables, ``random.Random("comptoir-messy")`` for check digits, dates in
2025), so two builds give the same records with the same ids.

What this Tryton accepts (8.2, read in its code): names keep their spaces (``party.name`` has
``strip=False``) but other Char fields (mechanism values and names, codes) lose leading and
trailing whitespace; e-mails and phones are not checked because ``email_validator`` and
``phonenumbers`` are not installed (this script switches both checks off anyway, so it builds
the same data where they are: such values come from old imports); typed identifiers are checked
with python-stdnum and reformatted by it when it has a ``format`` (SIREN ``732 829 320``, UID
``CHE-…``), so they are generated valid; ``eu_vat`` and ``fr_vat`` have no ``format`` and keep the
spaces and dots they are typed with. An address has ``invoice`` and ``delivery`` flags
(account_invoice, stock) and can be deactivated. Sale lines have no discount field without the
``sale_discount`` module: a discount is a 4-decimal ``unit_price`` and the line's description.

Messy data set
==============

60 parties with codes ``M01``…``M60`` (ids 2…61, in this order; the company's party, id 1 and
code ``1``, gets an e-mail and a phone), 4 products added to the 8 tidy services, 30 sales
``MSY-V01``…``V30``, 26 customer invoices (23 with a ``MSY-…`` reference, the 3 credit notes of
the wizard without) and one supplier invoice. Where each oddity is (party codes):

* names: NFD accents M01 M02 M03 M04 (and the contact name in M03); NBSP M05 M06 M07 M15;
  narrow NBSP M08 M09 M10; curly ’ M11 M12 M13 M38 M46 M53 (M14 is M11 with straight ' and
  the same SIREN and e-mail: a duplicate); « » M15 M16 M17; Œ/Æ/ß/Ø M18 M19 M20 M21 M22;
  leading/trailing/double spaces M23 M24 M25 M26; persons M02 M21 M27 M28 M29 M30 M31; no name
  (None) M32; homonyms M33/M34; upper case M35, lower case M36, emoji M37, 262 characters M38.
* addresses: none M17 M32 M36 M37; several M01 (invoice + delivery + one inactive) M20 M41 M45
  (invoice / delivery) M50 (4: plain, invoice, delivery, old depot: the invoice address is not
  the first); multi-line streets M01 M09 M20 M25 (CRLF) M31 M43 M45 M47 M50; BE M31 M40, CH M41
  M42, DE M20 M43 M44, GB M45 M46, US M47, DK M21; no country, street nor postcode M39; CEDEX
  M19 M50.
* e-mails, invalid: ``@@`` or two @ M05 M23 M35; trailing comma M04 M08 M22; ``;`` between two
  M07 M28 M50 (named); spaces M09 M16 M52 (and M07's "; ", M58's "Name <addr>"); no dot in the
  domain M13 M26 M41 (named); ``-.`` M10 M25 M47; non-ASCII M12 M18 M21 M44; also ``..`` M54,
  trailing dot M60, ``mailto:`` M57. Several e-mails: M22 M35 M47 M50 (4), M01 (one named), M30
  (one inactive). Valid in mixed case: M30, M35.
* phones: French formats (``01 23 45 67 89`` M01, dots M02 M03 M24 M60, ``+33 …`` M22 M29 M59,
  ``0033…`` M06 M19, ``+33 (0)…`` M05 M53, compact M27 M35 M49, dashes M13); foreign BE M31 M40,
  CH M41 M42, DE M20 M43 M44, GB M45 M46, US M47, DK M21; garbage M10 M15 M26 M46 M57 M58 M59;
  phone + mobile M02 M09 M27 M31 M45 M59 (M01 M03 with a named mobile); fax M06 M29 M51; skype
  and other M51; websites valid M16 M39 M48, invalid M05 (``www.…`` without TLD) M08
  (``http//``) M53 (``htps://``) M57 (no scheme).
* named mechanisms (contacts): M01 "Claire Martin" ×2 + "claire  martin", M03 (NFD), M20
  "Hans Müller" ×2, M41 (invalid e-mail), M46 (garbage phone), M50 (``;`` e-mail).
* identifiers: fr_siren on 22 parties (M11 and M14 share one; M54's has a wrong check digit,
  written with SQL as a legacy import would), fr_siret M01 M07 M49, eu_vat FR M01 M53 (typed
  with spaces, with dots and lower case), BE M40, DE M20 M43; fr_vat M19 M53; be_vat M40; ch_uid
  M41 M42; ch_vat M41; de_handelsregisternummer M20 M43; gb_vat M45 M46; us_ein M47; no type
  M15 M38 M60.
* inactive parties: M04 (posted invoice) M24 M28 (done sale) M44 (draft sale) M55 M56 (paid
  invoice).
* sales: draft V01–V05 (V02 V05 without address), quotation V06–V10, confirmed (not processed)
  V11–V14, processing V15–V21 (their invoices: draft V15 V16 (no date), validated V17, posted
  V18 V19, partly paid V20 V21), done V22–V26 (invoices paid), cancelled V27–V30 (V27 V28 from
  draft); lines with 4-decimal prices (54.4140 = 60.46 − 10 %, 520.5188, 218.6625, 4.9952…),
  quantities 0.5 and 1.25 h, 2.333 and 0.125 "Jour-homme" (a unit with 3 digits), 12.75 kg,
  negative "Remise commerciale" lines, comment lines, multi-line descriptions.
* direct invoices ``MSY-F01``…``F10``: draft F01, validated F02, posted F03 F04 F10, credited by
  the wizard with refund F05 (cancelled; its credit note paid), credited without refund F06
  (credit note posted) and F07 (credit note left in draft), paid F08, partly paid F09; a
  hand-made credit note ``MSY-H01`` (negative quantities, posted); a supplier invoice
  ``MSY-S01`` (draft, type ``in``). Customer invoice states: draft 4, validated 2, posted 12 (3
  partly paid), paid 7, cancelled 1. Dated 2025-01-20 … 2025-11-20.

Change set (``--changes``)
--------------------------

Renames M03 (NFD → NFC: looks the same), M25, M27, M48 (NBSP and ’); addresses: M49 street
(now multi-line), M40 city, a new delivery address for M45, M50's old depot deleted; three new
parties (codes from Tryton's sequence): "Nouvelle Société d’Essai" (NBSP, ``@@`` e-mail, SIREN),
"Ærø Shipping GmbH" (DE, VAT), NFD "Zoë Çelik" (person, no address); deactivated M06 M43 (has
documents) M52, reactivated M24; deleted M36 M37 M58 (no documents); e-mails M05 invalid →
valid and M49 valid → invalid; invoices ``MSY-F11`` (M49) and ``MSY-F12`` (M02) posted on
2025-12-01/02, a credit note of F10 by the wizard (posted), a payment of 100.00 on F04; sale V04
draft → quotation and V12 confirmed → processing (its invoice in draft). F07's draft credit note
(2025-11-20) can no longer be posted after that: the strict sequence refuses an earlier date.
"""

from __future__ import annotations

import argparse
import datetime
import random
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

try:  # imported as comptoir.testing.tryton_messy
    from . import tryton_seed
except ImportError:  # run as a script: its folder is on sys.path
    import tryton_seed  # type: ignore[no-redef]

DATA_YEAR, log, chunks = tryton_seed.DATA_YEAR, tryton_seed.log, tryton_seed.chunks

NBSP, NNBSP = "\u00a0", "\u202f"
SKIPPED_TASKS = frozenset({"print_invoice", "check_vies"})  # slow, or a call to the VIES service


def nfd(text: str) -> str:
    """Decomposed accents (``e`` + U+0301), as macOS file names and some exports have them."""
    return unicodedata.normalize("NFD", text)


def day(month: int, dom: int, year: int = DATA_YEAR) -> datetime.date:
    return datetime.date(year, month, dom)


# --- Parties -------------------------------------------------------------------------------------
# An address: (street, postal code, city, country code, flags), flags among "invoice",
# "delivery", "inactive". A mechanism: (type, value) or (type, value, contact name), a trailing
# "inactive" deactivates it. An identifier: (type, code); codes in <angle brackets> are
# generated valid: <siren>, <siret> (of the party's SIREN), <fr_vat>, <eu_vat_fr> (typed
# "FR 40 303 265 045"), <eu_vat_fr_lower> ("fr40.303.265.045"), <eu_vat_be>, <eu_vat_de>,
# <be_vat>, <ch_uid>, <ch_vat>, <gb_vat>, <us_ein>, <siren:M11> (another party's); <bad_siren>
# has a wrong check digit and is typed with SQL.

Address = tuple[str, str, str, str | None, frozenset[str]]


def A(street: str, postal_code: str, city: str, country: str | None = "FR",
      *flags: str) -> Address:
    return (street, postal_code, city, country, frozenset(flags))


PARTIES: list[dict[str, Any]] = [
    {"code": "M01", "name": nfd("Société Générale d'Études Électriques"),
     "addresses": [
         A("Tour Europlaza\n20 avenue André Prothin\nCS 20001", "92400", "Courbevoie", "FR",
           "invoice"),
         A("Entrepôt\n5 rue des Bateliers", "93400", "Saint-Ouen-sur-Seine", "FR", "delivery"),
         A("3 rue de l'Ancienne Adresse", "75002", "Paris", "FR", "inactive")],
     "mechanisms": [("email", "contact@sgee.fr"), ("phone", "01 23 45 67 89"),
                    ("email", "c.martin@sgee.fr", "Claire Martin"),
                    ("phone", "+33 1 23 45 67 01", "Claire Martin"),
                    ("mobile", "06 12 34 56 78", "claire  martin")],
     "identifiers": [("fr_siren", "<siren>"), ("fr_siret", "<siret>"),
                     ("eu_vat", "<eu_vat_fr>")]},
    {"code": "M02", "name": nfd("Hélène Bérénice Lefèvre"), "person": True,
     "addresses": [A("8 montée de la Grande Côte", "69001", "Lyon")],
     "mechanisms": [("email", "helene.lefevre@free.fr"), ("mobile", "06.12.34.56.78"),
                    ("phone", "04 72 00 00 00")]},
    {"code": "M03", "name": nfd("Crêperie de la Forêt"),
     "addresses": [A("2 place du Marché", "35000", "Rennes")],
     "mechanisms": [("email", "contact@creperie-de-la-foret.fr"), ("phone", "02.99.12.34.56"),
                    ("mobile", "06 01 02 03 04", nfd("Gaëlle Le Bihan"))],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M04", "name": nfd("Cabinet Gérard Ménard"), "active": False,
     "addresses": [A("14 allée Jean Jaurès", "31000", "Toulouse")],
     "mechanisms": [("email", "gerard.menard@cabinet-menard.fr,")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M05", "name": f"Café{NBSP}du{NBSP}Port",
     "addresses": [A("5 quai de la Fosse", "44000", "Nantes")],
     "mechanisms": [("email", "contact@@cafe-du-port.fr"), ("phone", "+33 (0)2 40 12 34 56"),
                    ("website", "www.cafe-du-port")]},
    {"code": "M06", "name": f"Garage{NBSP}Dupont{NBSP}&{NBSP}Fils",
     "addresses": [A("120 cours de la Marne", "33800", "Bordeaux")],
     "mechanisms": [("email", "garage.dupont@orange.fr"), ("phone", "0033556123456"),
                    ("fax", "05 56 12 34 57")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M07", "name": f"SARL{NBSP}Ateliers{NBSP}Réunis",
     "addresses": [A("45 rue Nationale", "59000", "Lille")],
     "mechanisms": [("email", "ateliers-reunis@wanadoo.fr; compta@ateliers-reunis.fr")],
     "identifiers": [("fr_siren", "<siren>"), ("fr_siret", "<siret>")]},
    {"code": "M08", "name": f"Atelier{NNBSP}Lumière",
     "addresses": [A("3 rue des Orfèvres", "67000", "Strasbourg")],
     "mechanisms": [("email", "contact@atelier-lumiere.fr,"),
                    ("website", "http//www.atelier-lumiere.fr")]},
    {"code": "M09", "name": f"Boucherie{NNBSP}Centrale{NNBSP}SAS",
     "addresses": [A("Bâtiment C\n12 rue des Lilas", "34000", "Montpellier")],
     "mechanisms": [("email", "boucherie centrale@gmail.com"), ("phone", "04 67 12 34 56"),
                    ("mobile", "+33 6 12 34 56 78")]},
    {"code": "M10", "name": f"100{NNBSP}% Bio Épicerie",
     "addresses": [A("7 avenue Jean Médecin", "06000", "Nice")],
     "mechanisms": [("email", "bio@epicerie-.fr"), ("phone", "n/c")]},
    {"code": "M11", "name": "L’Atelier d’Hélène",
     "addresses": [A("18 rue de la Liberté", "21000", "Dijon")],
     "mechanisms": [("email", "contact@atelier-helene.fr")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M12", "name": "Boulangerie de l’Église",
     "addresses": [A("1 place de l’Église", "49000", "Angers")],
     "mechanisms": [("email", "hélène@boulangerie-eglise.fr"), ("phone", "02 41 00 00 00")]},
    {"code": "M13", "name": "Aux Délices d’Antan",
     "addresses": [A("22 rue Colbert", "37000", "Tours")],
     "mechanisms": [("email", "contact@delices-dantan"), ("phone", "01-23-45-67-89")]},
    {"code": "M14", "name": "L'Atelier d'Hélène",
     "addresses": [A("18 rue de la Liberté", "21000", "Dijon")],
     "mechanisms": [("email", "contact@atelier-helene.fr")],
     "identifiers": [("fr_siren", "<siren:M11>")]},
    {"code": "M15", "name": f"Association «{NBSP}Les Amis du Vin{NBSP}»",
     "addresses": [A("9 rue d’Alsace-Lorraine", "21200", "Beaune")],
     "mechanisms": [("email", "amis.du.vin@laposte.net"), ("phone", "voir site web")],
     "identifiers": [(None, "RNA W212001234")]},
    {"code": "M16", "name": "SARL « Le Fournil »",
     "addresses": [A("4 place Grenette", "38000", "Grenoble")],
     "mechanisms": [("email", "contact@ lefournil.fr"), ("website", "http://lefournil.fr")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M17", "name": "«Chez Paulette»",
     "mechanisms": [("phone", "06 12 34 56 78"), ("email", "chez.paulette@gmail.com")]},
    {"code": "M18", "name": "Œnologie & Bœuf SARL",
     "addresses": [A("30 quai des Chartrons", "33000", "Bordeaux")],
     "mechanisms": [("email", "œnologie@bœuf.fr")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M19", "name": "Cæsar Æquo Conseil",
     "addresses": [A("55 rue du Faubourg Saint-Honoré", "75008", "PARIS CEDEX 08")],
     "mechanisms": [("email", "contact@caesar-aequo.fr"), ("phone", "0033142000000")],
     "identifiers": [("fr_siren", "<siren>"), ("fr_vat", "<fr_vat>")]},
    {"code": "M20", "name": "Großhandel Weiß GmbH",
     "addresses": [
         A("Speicherstadt\nBrooktorkai 7", "20457", "Hamburg", "DE", "invoice"),
         A("Friedrichstraße 200", "10117", "Berlin", "DE", "delivery")],
     "mechanisms": [("phone", "+49 40 1234567"),
                    ("email", "hans.mueller@weiss-grosshandel.de", "Hans Müller"),
                    ("phone", "040/1234568", "Hans Müller")],
     "identifiers": [("eu_vat", "<eu_vat_de>"),
                     ("de_handelsregisternummer", "Hamburg HRB 12345")]},
    {"code": "M21", "name": "Søren Ørsted", "person": True,
     "addresses": [A("Nørregade 12", "1165", "København K", "DK")],
     "mechanisms": [("email", "søren@ørsted.dk"), ("phone", "+45 33 12 34 56")]},
    {"code": "M22", "name": "Cœur de Lœwen",
     "addresses": [A("61 rue de Béthune", "59000", "Lille")],
     "mechanisms": [("email", "coeur.de.loewen@gmail.com"),
                    ("email", "compta@coeur-de-loewen.fr,"), ("phone", "+33 3 20 12 34 56")]},
    {"code": "M23", "name": "  Garage  Martin  ",
     "addresses": [A("80 rue Jeanne d’Arc", "76000", "Rouen")],
     "mechanisms": [("email", "garage.martin@@sfr.fr"), ("phone", "02 35 12 34 56")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M24", "name": " Transports Müller", "active": False,
     "addresses": [A("2 route du Rhin", "67100", "Strasbourg")],
     "mechanisms": [("email", "transports.muller@orange.fr"), ("phone", "03.88.12.34.56")]},
    {"code": "M25", "name": "Imprimerie  du  Centre",
     "addresses": [A("ZI des Bréguières\r\nLot 7", "63000", "Clermont-Ferrand")],
     "mechanisms": [("email", "imprimerie@centre-.com")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M26", "name": "Cabinet Roux ",
     "addresses": [A("11 rue Foch", "34000", "Montpellier")],
     "mechanisms": [("email", "cabinet.roux@gmail,com"), ("phone", "tél : 04 67 00 11 22")]},
    {"code": "M27", "name": "DUPONT Marie", "person": True,
     "addresses": [A("40 rue de la Convention", "75015", "Paris")],
     "mechanisms": [("email", "marie.dupont@free.fr"), ("mobile", "0612345678"),
                    ("phone", "01 45 67 89 00")]},
    {"code": "M28", "name": "M. Jean-Pierre Lefèvre", "person": True, "active": False,
     "addresses": [A("3 quai Saint-Antoine", "69002", "Lyon")],
     "mechanisms": [("email", "jp.lefevre@orange.fr;jp.lefevre@gmail.com")]},
    {"code": "M29", "name": "Dr Claire Martin-Dubois", "person": True,
     "addresses": [A("100 La Canebière", "13001", "Marseille")],
     "mechanisms": [("email", "claire.martin-dubois@doctolib.fr"),
                    ("mobile", "+33 6 98 76 54 32"), ("fax", "04 91 00 00 01")]},
    {"code": "M30", "name": "Petit Louis", "person": True,
     "addresses": [A("6 rue Crébillon", "44000", "Nantes")],
     "mechanisms": [("email", "Louis.Petit@Exemple.FR"), ("phone", "02 40 00 00 00"),
                    ("email", "louis.petit@ancien-fai.fr", None, "inactive")]},
    {"code": "M31", "name": "van der Berg Anneke", "person": True,
     "addresses": [A("Rue Haute 12\nBoîte 3", "1000", "Bruxelles", "BE")],
     "mechanisms": [("email", "anneke.vanderberg@telenet.be"), ("phone", "+32 2 511 23 45"),
                    ("mobile", "0475 12 34 56")]},
    {"code": "M32", "name": None,
     "mechanisms": [("email", "inconnu@exemple.fr")]},
    {"code": "M33", "name": "Boulangerie Martin",
     "addresses": [A("5 rue Nationale", "37000", "Tours")],
     "mechanisms": [("email", "boulangerie.martin@orange.fr")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M34", "name": "Boulangerie Martin",
     "addresses": [A("12 rue Lenepveu", "49100", "Angers")],
     "mechanisms": [("email", "boulangerie-martin@wanadoo.fr")]},
    {"code": "M35", "name": "PLOMBERIE GIRARD SARL",
     "addresses": [A("9 RUE MONGE", "21000", "DIJON")],
     "mechanisms": [("email", "PLOMBERIE.GIRARD@ORANGE.FR"),
                    ("email", "plomberie@girard@orange.fr"), ("phone", "0380123456")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M36", "name": "menuiserie roux",
     "mechanisms": [("email", "menuiserie.roux@gmail.com")]},
    {"code": "M37", "name": "Fleurs & Co 🌷",
     "mechanisms": [("email", "fleurs@co.fr")]},
    {"code": "M38", "name": (
        "Société Coopérative d’Intérêt Collectif pour le Développement Durable des Territoires "
        "Ruraux, de l’Agriculture Biologique et de l’Économie Sociale et Solidaire en Région "
        "Auvergne-Rhône-Alpes – Antenne de Clermont-Ferrand, Service des Relations avec les "
        "Adhérents"),
     "addresses": [A("1 place de Jaude", "63000", "Clermont-Ferrand")],
     "mechanisms": [("email", "contact@scic-aura.coop")],
     "identifiers": [("fr_siren", "<siren>"), (None, "APE 9499Z")]},
    {"code": "M39", "name": "Librairie Le Chat Qui Lit",
     "addresses": [A("", "", "Quimper", None)],
     "mechanisms": [("email", "librairie@lechatquilit.fr"),
                    ("website", "https://lechatquilit.fr")]},
    {"code": "M40", "name": "Brasserie de la Senne SRL",
     "addresses": [A("Chaussée de Gand 565", "1080", "Molenbeek-Saint-Jean", "BE")],
     "mechanisms": [("phone", "02/511.23.45"), ("email", "info@brasseriedelasenne.be")],
     "identifiers": [("eu_vat", "<eu_vat_be>"), ("be_vat", "<be_vat>")]},
    {"code": "M41", "name": "Chocolats Rüegg AG",
     "addresses": [A("Bahnhofstrasse 10", "8001", "Zürich", "CH", "invoice"),
                   A("Güterstrasse 5", "4053", "Basel", "CH", "delivery")],
     "mechanisms": [("phone", "+41 44 123 45 67"), ("phone", "044 123 45 68"),
                    ("email", "anna.ruegg@ruegg,ch", "Anna Rüegg")],
     "identifiers": [("ch_uid", "<ch_uid>"), ("ch_vat", "<ch_vat>")]},
    {"code": "M42", "name": "Horlogerie Genevoise SA",
     "addresses": [A("Rue du Rhône 42", "1204", "Genève", "CH")],
     "mechanisms": [("email", "contact@horlogerie-genevoise.ch"), ("phone", "022 310 12 34")],
     "identifiers": [("ch_uid", "<ch_uid>")]},
    {"code": "M43", "name": "Müller & Söhne GmbH",
     "addresses": [A("Hinterhof\nFriedrichstraße 123", "10117", "Berlin", "DE")],
     "mechanisms": [("phone", "030/1234567"), ("email", "info@mueller-soehne.de")],
     "identifiers": [("eu_vat", "<eu_vat_de>"),
                     ("de_handelsregisternummer", "Berlin (Charlottenburg) HRB 98765")]},
    {"code": "M44", "name": "Bäckerei Schäfer KG", "active": False,
     "addresses": [A("Marienplatz 1", "80331", "München", "DE")],
     "mechanisms": [("phone", "+49 89 1234567"), ("email", "info@bäckerei-schäfer.de")]},
    {"code": "M45", "name": "Thames Trading Ltd",
     "addresses": [A("10 Downing Street\nWestminster", "SW1A 2AA", "London", "GB", "invoice"),
                   A("Unit 4, Trafford Park", "M17 1AE", "Manchester", "GB", "delivery")],
     "mechanisms": [("phone", "+44 20 7946 0958"), ("mobile", "07700 900123"),
                    ("email", "sales@thames-trading.co.uk")],
     "identifiers": [("gb_vat", "<gb_vat>")]},
    {"code": "M46", "name": "Hughes & O’Brien LLP",
     "addresses": [A("1 Spinningfields", "M3 3AP", "Manchester", "GB")],
     "mechanisms": [("phone", "020 7946 0959"), ("email", "info@hughes-obrien.co.uk"),
                    ("phone", "ext. 204", "Mr O’Brien")],
     "identifiers": [("gb_vat", "<gb_vat>")]},
    {"code": "M47", "name": "Acme Corp.",
     "addresses": [A("350 Fifth Avenue\nSuite 4100", "NY 10118", "New York", "US")],
     "mechanisms": [("phone", "+1 (212) 555-0123"), ("phone", "212-555-0124"),
                    ("email", "billing@acme.example.com"), ("email", "compta@acme-.com")],
     "identifiers": [("us_ein", "<us_ein>")]},
    {"code": "M48", "name": "Studio Graphique Lambert",
     "addresses": [A("25 rue Mercière", "69002", "Lyon")],
     "mechanisms": [("email", "studio@lambert.fr"), ("phone", "04 78 12 34 56"),
                    ("website", "https://www.studio-lambert.fr")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M49", "name": "Transports Girard SAS",
     "addresses": [A("150 rue du Molinel", "59000", "Lille")],
     "mechanisms": [("email", "contact@transports-girard.fr"), ("phone", "+33320123456")],
     "identifiers": [("fr_siren", "<siren>"), ("fr_siret", "<siret>")]},
    {"code": "M50", "name": "Jardinerie Bernard",
     "addresses": [A("Route de Paris", "49000", "Angers"),
                   A("BP 120", "49001", "ANGERS CEDEX 01", "FR", "invoice"),
                   A("Zone artisanale\nRue des Serres", "49100", "Angers", "FR", "delivery"),
                   A("Ancien dépôt, chemin des Vignes", "49130", "Les Ponts-de-Cé")],
     "mechanisms": [("email", "contact@jardinerie-bernard.fr"),
                    ("email", "direction@jardinerie-bernard.fr"),
                    ("email", "jardinerie.bernard@gmail.com"),
                    ("email", "compta@jardinerie-bernard.fr;factures@jardinerie-bernard.fr",
                     "Service Comptabilité")]},
    {"code": "M51", "name": "Pharmacie Mercier",
     "addresses": [A("3 rue d’Antrain", "35000", "Rennes")],
     "mechanisms": [("email", "pharmacie.mercier@gmail.com"), ("phone", "02 99 00 00 00"),
                    ("fax", "02 99 00 00 01"), ("other", "Fermé le lundi"),
                    ("skype", "pharmacie.mercier")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M52", "name": "Fromagerie Bonnet",
     "addresses": [A("15 rue Sainte-Claire", "74000", "Annecy")],
     "mechanisms": [("email", "fromagerie bonnet@orange.fr"), ("phone", "04 50 12 34 56")]},
    {"code": "M53", "name": "Cabinet d’Architecture Morel",
     "addresses": [A("27 rue de Turenne", "75004", "Paris")],
     "mechanisms": [("email", "morel@archi-morel.fr"), ("phone", "+33 (0)1 42 00 00 00"),
                    ("website", "htps://archi-morel.fr")],
     "identifiers": [("fr_siren", "<siren>"), ("fr_vat", "<fr_vat>"),
                     ("eu_vat", "<eu_vat_fr_lower>")]},
    {"code": "M54", "name": "Brasserie Fournier",
     "addresses": [A("8 place Rihour", "59000", "Lille")],
     "mechanisms": [("email", "contact@brasserie-fournier..fr"), ("phone", "0320 12 34 56")],
     "identifiers": [("fr_siren", "<bad_siren>")]},
    {"code": "M55", "name": "Imprimerie Vincent", "active": False,
     "addresses": [A("2 rue de Strasbourg", "44000", "Nantes")],
     "mechanisms": [("email", "imprimerie.vincent@wanadoo.fr")]},
    {"code": "M56", "name": "Librairie Simon", "active": False,
     "addresses": [A("44 rue Nationale", "37000", "Tours")],
     "mechanisms": [("email", "librairie.simon@orange.fr")]},
    {"code": "M57", "name": "Atelier Leroy",
     "addresses": [A("9 rue des Filatiers", "31000", "Toulouse")],
     "mechanisms": [("email", "mailto:contact@atelier-leroy.fr"), ("phone", "0000000000"),
                    ("website", "atelier-leroy.fr")]},
    {"code": "M58", "name": "Conseil Garcia EURL",
     "addresses": [A("12 rue de Rivoli", "75004", "Paris")],
     "mechanisms": [("email", "Jean Garcia <jean@conseil-garcia.fr>"), ("phone", "01 23 45")]},
    {"code": "M59", "name": "Transports Laurent",
     "addresses": [A("60 boulevard de Paris", "13002", "Marseille")],
     "mechanisms": [("email", "transports.laurent@free.fr"),
                    ("phone", "+33 4 91 12 34 56 (standard)"),
                    ("mobile", "06 11 22 33 44 / 06 55 66 77 88")],
     "identifiers": [("fr_siren", "<siren>")]},
    {"code": "M60", "name": "Menuiserie Fournier & Fils",
     "addresses": [A("17 rue de la Paix", "44000", "Nantes")],
     "mechanisms": [("email", "menuiserie.fournier@orange.fr."), ("phone", "02.40.12.34.56")],
     "identifiers": [("fr_siren", "<siren>"), (None, "SIRET 123 456 789 00012")]},
]
COUNTRIES = {  # code: (name, code3, numeric); FR comes from the tidy setup
    "BE": ("Belgium", "BEL", "056"), "CH": ("Switzerland", "CHE", "756"),
    "DE": ("Germany", "DEU", "276"), "GB": ("United Kingdom", "GBR", "826"),
    "US": ("United States", "USA", "840"), "DK": ("Denmark", "DNK", "208"),
}
COMPANY_MECHANISMS = [("email", "contact@comptoir-demo.fr"), ("phone", "01 84 88 00 00")]

# --- Products, sales and invoices ----------------------------------------------------------------

# code: (name, unit, list price, tax): added to the tidy services (unit prices with 4 decimals,
# units that take decimal quantities)
PRODUCTS = {
    "ASSIST-H": ("Assistance (heure)", "Hour", "60.4600", "20"),
    "REGIE-JH": ("Régie (jour-homme)", "Jour-homme", "612.3750", "20"),
    "TORREF-KG": ("Torréfaction à façon (kg)", "Kilogram", "18.7525", "5.5"),
    "LIC-M": ("Licence utilisateur (mois)", "Unit", "7.4925", "20"),
}
# (product code, quantity, discount in %, description or None for the product's name)
LINES: list[tuple[str, float, str, str | None]] = [
    ("ASSIST-H", 0.5, "10", "Assistance téléphonique (remise 10 %)"),
    ("REGIE-JH", 2.333, "0", None),
    ("TORREF-KG", 12.75, "0", "Torréfaction à façon\nLot n° 42 – café d’Éthiopie"),
    ("MAINT-M", 1, "12.5", "Maintenance mensuelle (remise 12,5 %)"),
    ("ASSIST-H", 1.25, "0", None),
    ("LIC-M", 12, "33.33", "Licences ×12 (remise 33,33 %)"),
    ("REGIE-JH", 0.125, "15", "Régie – ¼ de journée (remise 15 %)"),
    ("CONS-J", 3, "7.5", "Conseil (remise 7,5 %)"),
    ("DEV-H", 7, "0", None),
    ("HEBERG", 12, "0", None),
    ("INST", 2, "0", "Installation sur site\nDéplacement inclus"),
    ("AUDIT", 1, "0", None),
]
DISCOUNT_LINE = ("CONS-J", 1, "-100.0000", "Remise commerciale")  # a negative unit price

# (reference, party, state, date); a sale's lines are LINES picked from its number
SALES: list[tuple[str, str, str, datetime.date]] = [
    ("MSY-V01", "M01", "draft", day(9, 2)), ("MSY-V02", "M17", "draft", day(9, 5)),
    ("MSY-V03", "M44", "draft", day(2, 10)), ("MSY-V04", "M05", "draft", day(9, 12)),
    ("MSY-V05", "M32", "draft", day(9, 15)),
    ("MSY-V06", "M02", "quotation", day(8, 1)), ("MSY-V07", "M20", "quotation", day(8, 4)),
    ("MSY-V08", "M40", "quotation", day(8, 6)), ("MSY-V09", "M12", "quotation", day(8, 18)),
    ("MSY-V10", "M47", "quotation", day(8, 25)),
    ("MSY-V11", "M41", "confirmed", day(7, 1)), ("MSY-V12", "M09", "confirmed", day(7, 8)),
    ("MSY-V13", "M45", "confirmed", day(7, 15)), ("MSY-V14", "M22", "confirmed", day(7, 22)),
    ("MSY-V15", "M03", "processing", day(5, 5)), ("MSY-V16", "M07", "processing", day(5, 12)),
    ("MSY-V17", "M11", "processing", day(5, 19)), ("MSY-V18", "M19", "processing", day(5, 26)),
    ("MSY-V19", "M20", "processing", day(6, 2)), ("MSY-V20", "M43", "processing", day(6, 9)),
    ("MSY-V21", "M50", "processing", day(6, 16)),
    ("MSY-V22", "M28", "done", day(2, 3)), ("MSY-V23", "M01", "done", day(2, 17)),
    ("MSY-V24", "M31", "done", day(3, 3)), ("MSY-V25", "M48", "done", day(3, 17)),
    ("MSY-V26", "M42", "done", day(3, 31)),
    ("MSY-V27", "M13", "cancelled", day(4, 7)), ("MSY-V28", "M16", "cancelled", day(4, 14)),
    ("MSY-V29", "M35", "cancelled", day(4, 21)), ("MSY-V30", "M46", "cancelled", day(4, 28)),
]
# what becomes of the invoice of a processing or done sale
SALE_INVOICES = {
    "MSY-V15": "draft", "MSY-V16": "draft (no date)", "MSY-V17": "validated",
    "MSY-V18": "posted", "MSY-V19": "posted", "MSY-V20": "partly paid",
    "MSY-V21": "partly paid", "MSY-V22": "paid", "MSY-V23": "paid", "MSY-V24": "paid",
    "MSY-V25": "paid", "MSY-V26": "paid",
}
# direct invoices: (reference, party, fate, date)
INVOICES: list[tuple[str, str, str, datetime.date]] = [
    ("MSY-F01", "M06", "draft", day(10, 20)), ("MSY-F02", "M14", "validated", day(10, 21)),
    ("MSY-F03", "M04", "posted", day(1, 20)), ("MSY-F04", "M49", "posted", day(6, 30)),
    ("MSY-F05", "M53", "credited with refund", day(7, 10)),
    ("MSY-F06", "M59", "credited", day(8, 12)),
    ("MSY-F07", "M23", "credited (credit note in draft)", day(9, 3)),
    ("MSY-F08", "M56", "paid", day(1, 27)), ("MSY-F09", "M25", "partly paid", day(9, 22)),
    ("MSY-F10", "M38", "posted", day(10, 6)),
]
CREDITS = [("MSY-F05", True, day(11, 5)), ("MSY-F06", False, day(11, 15)),
           ("MSY-F07", False, day(11, 20))]  # (invoice, with refund, credit note date)
HAND_CREDIT = ("MSY-H01", "M51", day(11, 10))

# --- Validity and oddities -----------------------------------------------------------------------


def email_oddities(value: str) -> list[str]:
    """Why an e-mail value is wrong (empty: it looks right). Shared by the summary and tests."""
    _local, _, domain = value.rpartition("@")
    kinds = []
    if "@@" in value or (value.count("@") > 1 and ";" not in value):
        kinds.append("double_at")
    if value.endswith(","):
        kinds.append("trailing_comma")
    if ";" in value:
        kinds.append("semicolon")
    if " " in value:
        kinds.append("space")
    if "@" in value and "." not in domain:
        kinds.append("no_dot_domain")
    if "-." in domain:
        kinds.append("dash_dot")
    if not value.isascii():
        kinds.append("unicode")
    if ".." in domain or value.endswith(".") or value.startswith("mailto:") or "@" not in value \
            or ("<" in value and "double_at" not in kinds):
        kinds.append("other")
    return kinds


def name_oddities(name: str | None) -> list[str]:
    if name is None:
        return ["no_name"]
    kinds = []
    if unicodedata.normalize("NFC", name) != name:
        kinds.append("nfd")
    if NBSP in name:
        kinds.append("nbsp")
    if NNBSP in name:
        kinds.append("narrow_nbsp")
    if "’" in name:
        kinds.append("curly_apostrophe")
    if "«" in name or "»" in name:
        kinds.append("guillemets")
    if any(ch in name for ch in "ŒœÆæßØø"):
        kinds.append("ligature")
    if name != name.strip(" ") or "  " in name:
        kinds.append("spaces")
    if not name.isascii() and any(ord(ch) > 0xFFFF for ch in name):
        kinds.append("emoji")
    if len(name) > 200:
        kinds.append("long")
    return kinds


class Numbers:
    """Valid identifier numbers for the checks Tryton runs (python-stdnum), from a seeded
    random generator: the same numbers on every build."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _digits(self, count: int) -> str:
        return "".join(str(self.rng.randint(0, 9)) for _ in range(count))

    def _until(self, make: Callable[[], str], is_valid: Callable[[str], bool]) -> str:
        for _ in range(100_000):
            candidate = make()
            if is_valid(candidate):
                return candidate
        raise AssertionError("no valid number found")

    def siren(self) -> str:
        return tryton_seed.siren(self.rng)

    def siret(self, siren: str) -> str:
        from stdnum.fr import siret
        return self._until(lambda: siren.replace(" ", "") + self._digits(5), siret.is_valid)

    @staticmethod
    def fr_vat(siren: str) -> str:
        compact = siren.replace(" ", "")
        return f"FR{(12 + 3 * (int(compact) % 97)) % 97:02d}{compact}"

    def be_vat(self) -> str:
        from stdnum.be import vat

        def make() -> str:
            body = "0" + str(self.rng.randint(2, 9)) + self._digits(6)
            return f"{body}{97 - int(body) % 97:02d}"
        return self._until(make, vat.is_valid)

    def de_vat(self) -> str:
        from stdnum.de import vat
        return self._until(lambda: str(self.rng.randint(1, 9)) + self._digits(8), vat.is_valid)

    def ch_uid(self) -> str:
        from stdnum.ch import uid
        return self._until(lambda: "CHE" + str(self.rng.randint(1, 9)) + self._digits(8),
                           uid.is_valid)

    def gb_vat(self) -> str:
        from stdnum.gb import vat
        return self._until(lambda: str(self.rng.randint(1, 9)) + self._digits(8), vat.is_valid)

    def us_ein(self) -> str:
        from stdnum.us import ein
        return self._until(lambda: "1" + str(self.rng.randint(0, 6)) + self._digits(7),
                           ein.is_valid)


def cut(value: str, *at: int, sep: str = " ") -> str:
    """``value`` split at the positions ``at``: ``cut("FR40303265045", 2, 4)`` is
    ``"FR 40 303265045"``."""
    bounds = [0, *at, len(value)]
    return sep.join(value[start:end] for start, end in pairwise(bounds))


def bad_siren(siren: str) -> str:
    """``siren`` with a wrong check digit, formatted like Tryton's (a legacy import)."""
    compact = siren.replace(" ", "")
    wrong = compact[:8] + str((int(compact[8]) + 1) % 10)
    return f"{wrong[:3]} {wrong[3:6]} {wrong[6:]}"


class MessySeeder(tryton_seed.Seeder):
    """The tidy ``Seeder`` (its ``setup`` and ``run``) with the messy data set on top."""

    def __init__(self, database: str, config_file: str) -> None:
        super().__init__(database, config_file, "small")  # "small": setup()'s 8 products
        self.rng = random.Random("comptoir-messy")
        self.numbers = Numbers(self.rng)
        self.memo: dict[tuple[str, str], str] = {}
        self.lock_tables: list[str] = []  # shared by every run (see ``run``)
        self.lock_records: dict[str, list[int]] = {}

    def run(self, work: Callable[[Any], Any], *,
            skip: Iterable[str] = SKIPPED_TASKS) -> Any:
        """``Seeder.run`` (one transaction, retried as trytond asks, then the queued tasks)
        without the tasks named in ``skip`` (a sale's ``process`` too, to leave it
        ``confirmed`` as it is until a worker runs), and remembering the tables trytond asked
        to lock: posting asks for three, one retry of the whole work each otherwise."""
        from trytond.pool import Pool
        from trytond.transaction import Transaction, TransactionError
        from trytond.worker import run_task

        skipped = frozenset(skip)
        context = dict(self.config.context, _skip_warnings=True, queue_batch=False)
        # trytond asks for what it needs by failing the transaction; what it asked for once
        # is asked for every time after (the invoice sequence, the journal periods)
        extras = {"_lock_tables": self.lock_tables, "_lock_records": self.lock_records}
        while True:
            with Transaction().start(self.database, self.config.user, context=context,
                                     **extras) as tx:
                try:
                    pool = Pool()
                    result = work(pool)
                    Queue = pool.get("ir.queue")
                    tasks = Queue.browse(list(tx.tasks))
                    drop = [t for t in tasks if (t.data or {}).get("method") in skipped]
                    Queue.delete(drop)
                    pending = [t.id for t in tasks if t not in drop]
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

    # --- helpers ---

    @staticmethod
    def relax_checks(pool: Any) -> None:
        """Accept any e-mail or phone, as an old import did: only effective where
        ``email_validator`` or ``phonenumbers`` are installed (not in ``.venv-tryton``)."""
        Mechanism = pool.get("party.contact_mechanism")
        Mechanism.check_valid_email = classmethod(lambda cls, records, field_names=None: None)
        Mechanism.check_valid_phonenumber = classmethod(
            lambda cls, records, field_names=None: None)

    @staticmethod
    def parties_by_code(pool: Any) -> dict[str, Any]:
        from trytond.transaction import Transaction

        Party = pool.get("party.party")
        with Transaction().set_context(active_test=False):
            return {p.code: p for p in Party.search([])}

    @staticmethod
    def invoices_by_reference(pool: Any) -> dict[str, Any]:
        Invoice = pool.get("account.invoice")
        return {i.reference: i for i in Invoice.search([("reference", "like", "MSY-%")])}

    @staticmethod
    def sales_by_reference(pool: Any) -> dict[str, Any]:
        Sale = pool.get("sale.sale")
        return {s.reference: s for s in Sale.search([("reference", "like", "MSY-%")])}

    # --- initial data set ---

    def messy(self) -> None:
        self.revenue_account = self.accounts["revenue"].id
        self.countries()
        self.parties()
        self.products_messy()
        self.sales()
        self.direct_invoices()
        self.post_and_pay()
        self.credit_notes()
        self.finish()

    def countries(self) -> None:
        def work(pool: Any) -> None:
            Country = pool.get("country.country")
            Country.create([{"name": name, "code": code, "code3": code3, "code_numeric": num}
                            for code, (name, code3, num) in COUNTRIES.items()])
        self.run(work)

    def _identifier(self, kind: str | None, raw: str, sirens: dict[str, str],
                    party_code: str) -> tuple[str | None, str]:
        """An identifier of ``PARTIES``: its code as written there, or generated valid and
        typed the way people type them (eu_vat keeps spaces, dots and lower case)."""
        own = sirens.get(party_code, "")
        numbers = self.numbers
        if raw.startswith("<siren:"):  # another party's
            return kind, sirens[raw[len("<siren:"):-1]]
        # a party's BE number and its VAT number are the same, so are its UID and Swiss VAT
        if raw in ("<eu_vat_be>", "<be_vat>") and ("be", party_code) not in self.memo:
            self.memo["be", party_code] = numbers.be_vat()
        if raw in ("<ch_uid>", "<ch_vat>") and ("ch", party_code) not in self.memo:
            self.memo["ch", party_code] = numbers.ch_uid()
        be, ch = self.memo.get(("be", party_code), ""), self.memo.get(("ch", party_code), "")
        generated: dict[str, Callable[[], str]] = {
            "<siren>": lambda: own,
            "<siret>": lambda: numbers.siret(own),
            "<fr_vat>": lambda: numbers.fr_vat(own),
            "<eu_vat_fr>": lambda: cut(numbers.fr_vat(own), 2, 4, 7, 10),  # FR 40 303 265 045
            "<eu_vat_fr_lower>": lambda: "fr" + cut(numbers.fr_vat(own)[2:], 2, 5, 8, sep="."),
            "<eu_vat_be>": lambda: "BE " + cut(be, 4, 7, sep="."),
            "<be_vat>": lambda: cut(be, 4, 7, sep="."),  # 0403.170.701
            "<eu_vat_de>": lambda: "DE " + cut(numbers.de_vat(), 3, 6),
            "<ch_uid>": lambda: ch,
            "<ch_vat>": lambda: ch + " MWST",
            "<gb_vat>": lambda: "GB" + numbers.gb_vat(),
            "<us_ein>": numbers.us_ein,
            "<bad_siren>": lambda: bad_siren(numbers.siren()),
        }
        return kind, generated[raw]() if raw in generated else raw

    def parties(self) -> None:
        """The 60 parties, in their table's order (ids 2…61), then the SIRETs (they point to
        an address), the invalid SIREN and the company's own contact mechanisms."""
        sirens = {spec["code"]: self.numbers.siren() for spec in PARTIES
                  if any(code in ("<siren>", "<siret>", "<fr_vat>", "<eu_vat_fr>",
                                  "<eu_vat_fr_lower>")
                         for _kind, code in spec.get("identifiers", []))}
        # (type, code, how): "plain" ones with the party, "siret" ones then (they point to
        # an address), "legacy" ones with a wrong check digit through SQL
        specs = []
        for spec in PARTIES:
            identifiers = []
            for kind, raw in spec.get("identifiers", []):
                kind, code = self._identifier(kind, raw, sirens, spec["code"])
                how = ("legacy" if raw == "<bad_siren>" else
                       "siret" if kind == "fr_siret" else "plain")
                identifiers.append((kind, code, how))
            specs.append((spec, identifiers))

        def work(pool: Any) -> None:
            from sql import Literal
            from trytond.transaction import Transaction

            self.relax_checks(pool)
            Party = pool.get("party.party")
            Country = pool.get("country.country")
            Identifier = pool.get("party.identifier")
            Mechanism = pool.get("party.contact_mechanism")
            Company = pool.get("company.company")
            countries = {c.code: c.id for c in Country.search([])}
            vlist = []  # the same keys in every record: one batched create
            for spec, identifiers in specs:
                addresses = [{
                    "street_unstructured": street, "postal_code": postal_code, "city": city,
                    "country": countries[country] if country else None,
                    "invoice": "invoice" in flags, "delivery": "delivery" in flags,
                    "active": "inactive" not in flags,
                } for street, postal_code, city, country, flags in spec.get("addresses", [])]
                mechanisms = [{"type": kind, "value": value, "name": rest[0] if rest else None,
                               "active": "inactive" not in rest[1:]}
                              for kind, value, *rest in spec.get("mechanisms", [])]
                plain = [{"type": kind, "code": code}
                         for kind, code, how in identifiers if how == "plain"]
                vlist.append({"code": spec["code"], "name": spec["name"],
                              "addresses": [("create", addresses)],
                              "contact_mechanisms": [("create", mechanisms)],
                              "identifiers": [("create", plain)]})
            parties = [party for part in chunks(vlist, 20) for party in Party.create(part)]
            later = []
            for party, (_spec, identifiers) in zip(parties, specs, strict=True):
                for kind, code, how in identifiers:
                    if how == "siret":
                        later.append({"party": party.id, "type": kind, "code": code,
                                      "address": party.addresses[0].id})
                    elif how == "legacy":
                        later.append({"party": party.id, "type": None, "code": code})
            created = Identifier.create(later)
            legacy = [i.id for i in created if i.type is None]
            # Tryton refuses a SIREN with a wrong check digit; old imports did not
            table = Identifier.__table__()
            cursor = Transaction().connection.cursor()
            for identifier_id in legacy:
                cursor.execute(*table.update([table.type], [Literal("fr_siren")],
                                             where=table.id == identifier_id))
            company, = Company.search([], limit=1)
            Mechanism.create([{"party": company.party.id, "type": kind, "value": value}
                              for kind, value in COMPANY_MECHANISMS])

        self.run(work)
        log(f"{len(PARTIES)} messy parties created")

    def products_messy(self) -> None:
        """A unit with 3 digits (2.333 days) and 4 products priced to 4 decimals."""
        def work(pool: Any) -> dict[str, tuple[int, int, Decimal, int, str]]:
            Uom = pool.get("product.uom")
            Category = pool.get("product.uom.category")
            Template = pool.get("product.template")
            AccountCategory = pool.get("product.category")
            time_category, = Category.search([("name", "=", "Time")])
            Uom.create([{"name": "Jour-homme", "symbol": "jh", "category": time_category.id,
                         "factor": 8.0, "rate": 0.125, "rounding": 0.001, "digits": 3}])
            categories = {c.name: c.id for c in AccountCategory.search([])}
            units = {u.name: u.id for u in Uom.search([])}
            for code, (name, unit, price, rate) in PRODUCTS.items():
                label = "TVA 20 %" if rate == "20" else "TVA 5,5 %"
                Template.create([{
                    "name": name, "code": code, "type": "service", "salable": True,
                    "default_uom": units[unit], "sale_uom": units[unit],
                    "list_price": Decimal(price),
                    "account_category": categories[f"Prestations {label}"],
                    "products": [("create", [{}])]}])
            return self.load_catalogue(pool)

        self.catalogue = self.run(work)
        log(f"{len(PRODUCTS)} messy products (4-decimal prices, Hour, Jour-homme, kg)")

    def line(self, spec: tuple[str, float, str, str | None], *, invoice: bool,
             sign: int = 1) -> dict[str, Any]:
        code, quantity, discount, description = spec
        product, unit, price, tax, name = self.catalogue[code]
        if discount.startswith("-"):  # an explicit (negative) unit price
            unit_price = Decimal(discount)
        else:
            unit_price = (price * (1 - Decimal(discount) / 100)).quantize(
                Decimal("0.0001"), rounding=ROUND_HALF_UP)
        values = {"type": "line", "product": product, "unit": unit,
                  "quantity": sign * quantity, "unit_price": unit_price,
                  "description": description or name, "taxes": [("add", [tax])]}
        if invoice:
            values["account"] = self.revenue_account
        return values

    @staticmethod
    def comment(text: str, *, invoice: bool) -> dict[str, Any]:
        values: dict[str, Any] = {
            "type": "comment", "product": None, "unit": None, "quantity": None,
            "unit_price": None, "description": text, "taxes": [("add", [])]}
        if invoice:
            values["account"] = None
        return values

    def lines_for(self, number: int, *, invoice: bool) -> list[dict[str, Any]]:
        """Two to four lines, the first with 4 decimals or a decimal quantity."""
        count = len(LINES)
        picks = [LINES[number % 7], LINES[(number * 5 + 3) % count]]
        if number % 3 == 0:
            picks.append(LINES[(number + 7) % count])
        lines = [self.line(spec, invoice=invoice) for spec in picks]
        if number % 4 == 1:
            lines.append(self.line(DISCOUNT_LINE, invoice=invoice))
        if number % 5 == 2:
            lines.insert(0, self.comment("Suite à notre rendez-vous du 3 mars :\n– devis "
                                         "révisé\n– délais confirmés", invoice=invoice))
        return lines

    def sales(self) -> None:
        """The 30 sales in every state; confirmed ones are not processed (no worker ran)."""
        def create(pool: Any) -> dict[str, int]:
            Sale = pool.get("sale.sale")
            parties = self.parties_by_code(pool)
            vlist = []
            for number, (reference, code, _state, date) in enumerate(SALES, 1):
                party = parties[code]
                invoice_address = party.address_get(type="invoice")
                shipment_address = party.address_get(type="delivery")
                vlist.append({
                    "party": party.id, "reference": reference, "sale_date": date,
                    "description": f"Commande {reference[-3:]} – {party.name or '?'}"[:120],
                    "payment_term": self.payment_term.id, "invoice_method": "order",
                    "invoice_address": invoice_address.id if invoice_address else None,
                    "shipment_address": shipment_address.id if shipment_address else None,
                    "lines": [("create", self.lines_for(number, invoice=False))],
                })
            return {s.reference: s.id for s in Sale.create(vlist)}

        ids = self.run(create)
        by_state: dict[str, list[int]] = {}
        for reference, _code, state, _date in SALES:
            by_state.setdefault(state, []).append(ids[reference])

        def quote(pool: Any) -> None:
            Sale = pool.get("sale.sale")
            cancelled = by_state["cancelled"]
            to_quote = Sale.browse(by_state["quotation"] + by_state["confirmed"]
                                   + by_state["processing"] + by_state["done"]
                                   + cancelled[len(cancelled) // 2:])
            for sale in to_quote:
                sale.quotation_date = sale.sale_date
            Sale.save(to_quote)
            Sale.quote(to_quote)
            Sale.cancel(Sale.browse(cancelled))

        self.run(quote)

        def confirm_only(pool: Any) -> None:
            Sale = pool.get("sale.sale")
            Sale.confirm(Sale.browse(by_state["confirmed"]))

        self.run(confirm_only, skip=SKIPPED_TASKS | {"process"})

        def confirm(pool: Any) -> None:  # processed after the commit: invoices in draft
            Sale = pool.get("sale.sale")
            Sale.confirm(Sale.browse(by_state["processing"] + by_state["done"]))

        self.run(confirm)
        log(f"{len(SALES)} sales: " + ", ".join(f"{k} {len(v)}" for k, v in by_state.items()))

    def direct_invoices(self) -> None:
        """Invoices made without a sale, and the hand-made credit note (negative lines)."""
        def work(pool: Any) -> None:
            Invoice = pool.get("account.invoice")
            Journal = pool.get("account.journal")
            journal, = Journal.search([("type", "=", "revenue")], limit=1)
            parties = self.parties_by_code(pool)
            vlist = []
            specs = [(reference, code, date, self.lines_for(number + 3, invoice=True))
                     for number, (reference, code, _fate, date) in enumerate(INVOICES)]
            reference, code, date = HAND_CREDIT
            specs.append((reference, code, date, [
                self.line(("CONS-J", 1, "0", "Avoir : journée de conseil facturée deux fois"),
                          invoice=True, sign=-1),
                self.line(("ASSIST-H", 0.5, "10", "Avoir : assistance non due"),
                          invoice=True, sign=-1)]))
            for reference, code, date, lines in specs:
                party = parties[code]
                vlist.append({
                    "type": "out", "party": party.id, "reference": reference,
                    "invoice_address": party.address_get(type="invoice").id,
                    "account": party.account_receivable_used.id, "journal": journal.id,
                    "payment_term": self.payment_term.id, "invoice_date": date,
                    "description": ("Avoir manuel – erreur de facturation"
                                    if reference == HAND_CREDIT[0]
                                    else f"Facture {reference[-3:]} – prestations"),
                    "lines": [("create", lines)],
                })
            Invoice.create(vlist)
            # one supplier invoice, which a customer-invoice sync must ignore
            supplier = parties["M40"]
            Invoice.create([{
                "type": "in", "party": supplier.id, "reference": "MSY-S01",
                "invoice_address": supplier.address_get(type="invoice").id,
                "account": supplier.account_payable_used.id,
                "journal": Journal.search([("type", "=", "expense")], limit=1)[0].id,
                "invoice_date": day(6, 1), "description": "Fût de bière (fournisseur)",
                "lines": [("create", [{"type": "line", "quantity": 2.0,
                                       "unit_price": Decimal("84.5000"),
                                       "description": "Fût 20 L", "unit": None,
                                       "account": self.accounts["expense"].id}])]}])

        self.run(work)
        log(f"{len(INVOICES)} direct invoices, a hand-made credit note and a supplier invoice")

    def post_and_pay(self) -> None:
        """Date, validate and post (in date order: the invoice sequence is strict), then pay
        through the pay wizard (proteus), in full or in part."""
        from proteus import Model

        fates = {**SALE_INVOICES, **{ref: fate for ref, _c, fate, _d in INVOICES}}
        self.lock_for_posting()

        def work(pool: Any) -> None:
            Invoice = pool.get("account.invoice")
            sales = self.sales_by_reference(pool)
            for reference in SALE_INVOICES:
                invoice, = sales[reference].invoices
                invoice.reference = reference
                if SALE_INVOICES[reference] != "draft (no date)":
                    invoice.invoice_date = sales[reference].sale_date + datetime.timedelta(3)
                invoice.description = f"Facture de la commande {sales[reference].number}"
                invoice.save()
            invoices = self.invoices_by_reference(pool)
            Invoice.validate_invoice([invoices[r] for r, fate in fates.items()
                                      if fate == "validated"])
            to_post = sorted((invoices[r] for r, fate in fates.items()
                              if not fate.startswith(("draft", "validated"))),
                             key=lambda i: (i.invoice_date, i.id))
            Invoice.post(to_post)

        self.run(work)
        Invoice = Model.get("account.invoice")
        for reference, fate in sorted(fates.items()):
            if fate not in ("paid", "partly paid"):
                continue
            invoice, = Invoice.find([("reference", "=", reference)])
            amount = invoice.total_amount
            if fate == "partly paid":
                amount = (amount * Decimal("0.4")).quantize(Decimal("0.01"))
            self.pay(invoice, amount, invoice.invoice_date + datetime.timedelta(15))
        log("invoices dated, validated, posted and paid")

    def lock_for_posting(self) -> None:
        """Lock up front what posting makes trytond lock (the strict invoice sequences, the
        journal periods): asked for on the way, each costs a rerun of the whole work."""
        def sequences(pool: Any) -> list[int]:
            return [s.id for s in pool.get("ir.sequence.strict").search([])]

        ids = self.run(sequences)
        locked = self.lock_records.setdefault("ir_sequence_strict", [])
        locked.extend(i for i in ids if i not in locked)
        if "account_journal_period" not in self.lock_tables:
            self.lock_tables.append("account_journal_period")

    def pay(self, invoice: Any, amount: Decimal, date: datetime.date) -> None:
        pay = invoice.click("pay")
        pay.form.amount = amount
        pay.form.payment_method = self.payment_method
        pay.form.date = date
        pay.execute("choice")
        if pay.state != "end":
            pay.form.type = "partial"
            pay.execute("pay")

    def credit(self, invoice: Any, *, refund: bool, date: datetime.date) -> Any:
        """The credit wizard (``account.invoice.credit``) on ``invoice``: its credit note."""
        from proteus import Model, Wizard

        Invoice = Model.get("account.invoice")
        before = {i.id for i in Invoice.find([("type", "=", "out")])}
        wizard = Wizard("account.invoice.credit", [invoice])
        wizard.form.with_refund = refund
        wizard.form.invoice_date = date
        wizard.execute("credit")
        note, = Invoice.find([("type", "=", "out"), ("id", "not in", list(before))])
        return note

    def credit_notes(self) -> None:
        """The credit wizard with and without refund, and the hand-made credit note posted
        between them: in date order, as the strict invoice sequence wants."""
        from proteus import Model

        Invoice = Model.get("account.invoice")
        steps: list[tuple[datetime.date, str, bool | None]] = [
            (date, reference, refund) for reference, refund, date in CREDITS]
        steps.append((HAND_CREDIT[2], HAND_CREDIT[0], None))
        for _date, reference, refund in sorted(steps):
            invoice, = Invoice.find([("reference", "=", reference)])
            if refund is None:
                invoice.click("post")
                continue
            note = self.credit(invoice, refund=refund, date=_date)
            if not refund and reference != "MSY-F07":
                note.click("post")
        log("credit notes: wizard with refund, without (posted, draft); one by hand")

    def finish(self) -> None:
        """Deactivate the inactive parties (after their documents were made)."""
        def work(pool: Any) -> None:
            Party = pool.get("party.party")
            parties = self.parties_by_code(pool)
            Party.write([parties[spec["code"]] for spec in PARTIES
                         if spec.get("active") is False], {"active": False})

        self.run(work)

    # --- change set ---

    def changes(self) -> None:
        """The change set: what a sync must pick up after its first run."""
        from proteus import Model

        new_siren, new_vat = self.numbers.siren(), "DE " + self.numbers.de_vat()

        def edit(pool: Any) -> None:
            self.relax_checks(pool)
            Party = pool.get("party.party")
            Address = pool.get("party.address")
            Mechanism = pool.get("party.contact_mechanism")
            Country = pool.get("country.country")
            Sale = pool.get("sale.sale")
            Invoice = pool.get("account.invoice")
            Journal = pool.get("account.journal")
            parties = self.parties_by_code(pool)
            countries = {c.code: c.id for c in Country.search([])}
            fr_id, de_id, gb_id = countries["FR"], countries["DE"], countries["GB"]

            # renames
            Party.write([parties["M03"]], {"name": unicodedata.normalize(
                "NFC", parties["M03"].name)},
                [parties["M25"]], {"name": "Imprimerie du Centre – Groupe Ællo"},
                [parties["M27"]], {"name": "Marie Dupont-Lefèvre"},
                [parties["M48"]], {"name": f"L’Atelier{NBSP}Numérique Lambert"})
            # addresses
            Address.write(list(parties["M49"].addresses),
                          {"street": "Parc d’activités\n3 allée des Tilleuls"},
                          list(parties["M40"].addresses), {"city": "Sint-Jans-Molenbeek"})
            Address.create([{"party": parties["M45"].id,
                             "street": "Unit 9, Royal Docks", "postal_code": "E16 2QU",
                             "city": "London", "country": gb_id, "delivery": True}])
            old, = [a for a in parties["M50"].addresses if a.street.startswith("Ancien")]
            Address.delete([old])
            # new parties
            Party.create([
                {"name": f"Nouvelle{NBSP}Société d’Essai",
                 "addresses": [("create", [{"street": "1 rue Neuve", "postal_code": "75001",
                                            "city": "Paris", "country": fr_id}])],
                 "contact_mechanisms": [("create", [
                     {"type": "email", "value": "essai@@nouvelle-societe.fr"},
                     {"type": "phone", "value": "+33 (0)1 40 00 00 00"}])],
                 "identifiers": [("create", [{"type": "fr_siren", "code": new_siren}])]},
                {"name": "Ærø Shipping GmbH",
                 "addresses": [("create", [{"street": "Kiellinie 1\nHaus B",
                                            "postal_code": "24105", "city": "Kiel",
                                            "country": de_id}])],
                 "contact_mechanisms": [("create", [
                     {"type": "email", "value": "info@aero-shipping.de"}])],
                 "identifiers": [("create", [{"type": "eu_vat", "code": new_vat}])]},
                {"name": nfd("Zoë Çelik"),
                 "contact_mechanisms": [("create", [
                     {"type": "email", "value": "zoe.celik@exemple.fr"},
                     {"type": "mobile", "value": "+33 7 12 34 56 78"}])]},
            ])
            # (de)activations and deletions
            Party.write([parties[c] for c in ("M06", "M43", "M52")], {"active": False},
                        [parties["M24"]], {"active": True})
            Party.delete([parties[c] for c in ("M36", "M37", "M58")])
            # e-mails: invalid → valid, valid → invalid
            for code, old_value, new_value in (
                    ("M05", "contact@@cafe-du-port.fr", "contact@cafe-du-port.fr"),
                    ("M49", "contact@transports-girard.fr", "contact@transports-girard,fr")):
                mechanism, = Mechanism.search([("party", "=", parties[code].id),
                                               ("value", "=", old_value)])
                Mechanism.write([mechanism], {"value": new_value})
            # new posted invoices, after every numbered one (the sequence is strict)
            journal, = Journal.search([("type", "=", "revenue")], limit=1)
            new = []
            for number, (reference, code, date) in enumerate((
                    ("MSY-F11", "M49", day(12, 1)), ("MSY-F12", "M02", day(12, 2)))):
                party = parties[code]
                new.append({
                    "type": "out", "party": party.id, "reference": reference,
                    "invoice_address": party.address_get(type="invoice").id,
                    "account": party.account_receivable_used.id, "journal": journal.id,
                    "payment_term": self.payment_term_id(pool), "invoice_date": date,
                    "description": f"Facture {reference[-3:]} – nouvelle",
                    "lines": [("create", self.lines_for(20 + number, invoice=True))]})
            Invoice.post(Invoice.create(new))
            # sales: draft → quotation
            sales = self.sales_by_reference(pool)
            draft = sales["MSY-V04"]
            draft.quotation_date = day(12, 1)
            draft.save()
            Sale.quote([draft])

        self.catalogue = self.run(self.load_catalogue)
        self.revenue_account = self.run(self.revenue_account_id)
        self.lock_for_posting()
        self.run(edit)

        def proceed(pool: Any) -> None:  # confirmed → processing (as the worker would)
            Sale = pool.get("sale.sale")
            Sale.process([self.sales_by_reference(pool)["MSY-V12"]])

        self.run(proceed)
        Invoice = Model.get("account.invoice")
        invoice, = Invoice.find([("reference", "=", "MSY-F10")])
        note = self.credit(invoice, refund=False, date=day(12, 3))
        note.click("post")
        PaymentMethod = Model.get("account.invoice.payment.method")
        self.payment_method, = PaymentMethod.find([("name", "=", "Virement")])
        invoice, = Invoice.find([("reference", "=", "MSY-F04")])
        self.pay(invoice, Decimal("100.00"), day(12, 5))
        log("change set applied")

    @staticmethod
    def payment_term_id(pool: Any) -> int:
        PaymentTerm = pool.get("account.invoice.payment_term")
        term, = PaymentTerm.search([("name", "=", "30 jours")])
        return term.id

    @staticmethod
    def load_catalogue(pool: Any) -> dict[str, tuple[int, int, Decimal, int, str]]:
        Product = pool.get("product.product")
        catalogue = {}
        for product in Product.search([]):
            template = product.template
            tax, = template.account_category.customer_taxes
            catalogue[template.code] = (product.id, template.default_uom.id,
                                        template.list_price, tax.id, template.name)
        return catalogue

    @staticmethod
    def revenue_account_id(pool: Any) -> int:
        """The revenue account ``setup()`` gave its product categories."""
        Category = pool.get("product.category")
        category, = Category.search([("name", "like", "Prestations %")], limit=1)
        return int(category.account_revenue.id)

    # --- summary ---

    def summary(self) -> None:
        """Print which party (id, code) carries which oddity, and the documents' states."""
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        context = dict(self.config.context, active_test=False)
        with Transaction().start(self.database, self.config.user, context=context,
                                 readonly=True):
            pool = Pool()
            Party = pool.get("party.party")
            Sale = pool.get("sale.sale")
            Invoice = pool.get("account.invoice")
            found: dict[str, list[str]] = {}

            def note(kind: str, party: Any) -> None:
                found.setdefault(kind, []).append(f"{party.id}:{party.code}")

            for party in Party.search([], order=[("id", "ASC")]):
                for kind in name_oddities(party.name):
                    note(f"name {kind}", party)
                addresses = party.addresses  # with active_test=False: inactive ones too
                if not addresses:
                    note("no address", party)
                elif len([a for a in addresses if a.active]) > 1:
                    note("addresses>=2", party)
                if any(not a.active for a in addresses):
                    note("inactive address", party)
                if any("\n" in (a.street or "") for a in addresses):
                    note("multi-line street", party)
                for country in sorted({a.country.code for a in addresses
                                       if a.country and a.country.code != "FR"}):
                    note(f"address {country}", party)
                if not party.active:
                    note("inactive party", party)
                emails = [m for m in party.contact_mechanisms if m.type == "email"]
                for mechanism in emails:
                    for kind in email_oddities(mechanism.value):
                        note(f"e-mail {kind}", party)
                if len(emails) > 1:
                    note("e-mails>=2", party)
                kinds = {m.type for m in party.contact_mechanisms}
                if {"phone", "mobile"} <= kinds:
                    note("phone+mobile", party)
                if any(m.name for m in party.contact_mechanisms):
                    note("named mechanism", party)
                for identifier in party.identifiers:
                    note(f"identifier {identifier.type or '(none)'}", party)
            for kind in sorted(found):
                print(f"[messy] {kind} ({len(found[kind])}): {' '.join(found[kind])}",
                      flush=True)
            for state in ("draft", "quotation", "confirmed", "processing", "done",
                          "cancelled"):
                refs = [s.reference for s in Sale.search([("state", "=", state)],
                                                         order=[("id", "ASC")])]
                print(f"[messy] sales {state} ({len(refs)}): {' '.join(refs)}", flush=True)
            for state in ("draft", "validated", "posted", "paid", "cancelled"):
                rows = [f"{i.id}:{i.reference or '-'}{'(credit)' if i.total_amount < 0 else ''}"
                        for i in Invoice.search([("type", "=", "out"), ("state", "=", state)],
                                                order=[("id", "ASC")])]
                print(f"[messy] invoices {state} ({len(rows)}): {' '.join(rows)}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="trytond configuration file")
    parser.add_argument("--database", required=True, help="database name")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--profile", choices=["messy"], help="seed the messy data set")
    mode.add_argument("--changes", action="store_true",
                      help="apply the change set to a database seeded with --profile messy")
    args = parser.parse_args(argv)
    seeder = MessySeeder(args.database, args.config)
    if args.changes:
        seeder.changes()
    else:
        seeder.setup()
        seeder.messy()
    seeder.summary()
    log("messy change set applied" if args.changes else "profile 'messy' seeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
