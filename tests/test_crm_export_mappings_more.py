"""The ready-made mappings of other CRMs' activities, cases, companies and organizations
(Salesforce tasks and cases, HubSpot companies and tickets, Pipedrive organizations and
activities, Odoo helpdesk tickets), run through a files connection on files shaped like those
systems' real exports: their column names, date formats, picklist values, accents, and messy
rows (a parent never loaded, a picklist value of the company's own, a date in another format)
that must land or wait in quarantine with their reason, never be dropped. Plus the import
wizard proposing each of them for its object, and the header spellings of those exports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from comptoir.activities.models import Activity
from comptoir.crm.models import Account, Contact
from comptoir.integration import imports
from comptoir.integration.models import FieldIssue, QuarantinedRecord
from comptoir.service.models import Case
from test_crm_export_mappings import (  # noqa: F401 (ventes: a fixture)
    HS_CONTACTS,
    ODOO_PARTNERS,
    PD_DEALS,
    PD_PERSONS,
    SF_ACCOUNTS,
    load,
    mapped,
    reasons,
    ventes,
)


def local_day(value: dt.datetime | None) -> dt.date | None:
    """A day without a time lands at 00:00 local time (Comptoir's "all day")."""
    assert value is not None
    local = timezone.localtime(value)
    assert local.time() == dt.time.min, value
    return local.date()


def missing_parent(mapping: str, external_id: str) -> str:
    """The field of a record quarantined because its parent was never loaded."""
    held = QuarantinedRecord.objects.get(connection__name=mapping, external_id=external_id)
    assert "No record with this external id" in held.reason
    return held.field


def links(record: Activity | Case) -> tuple[str | None, str | None, str | None]:
    """(deal, contact, account) a record is linked to, by their names."""
    deal = getattr(record, "opportunity", None)
    return (deal.name if deal else None,
            record.contact.last_name if record.contact else None,
            record.account.legal_name if record.account else None)


def activity(subject: str) -> Activity:
    return Activity.objects.select_related("account", "contact", "opportunity").get(
        subject=subject)


def case(subject: str) -> Case:
    return Case.objects.select_related("account", "contact").get(subject=subject)


# --- Salesforce -----------------------------------------------------------------------------

SF_CONTACTS = (
    "Id,IsDeleted,AccountId,Salutation,FirstName,LastName,Title,Email,Phone,MobilePhone,"
    "HasOptedOutOfEmail\n"
    "0035g00000XyZaAAAV,false,0015g00000AbCdEAAV,Mr.,François,Lefèvre,Gérant,"
    "f.lefevre@lefevre.example,,,false\n"
    "0035g00000XyZbAAAV,false,0015g00000AbCdFAAV,Ms.,Chloé,Dumas,,chloe@dumas.example,,,false\n"
)
# Data Loader writes the API names in capitals, dates yyyy-mm-dd, times in UTC.
SF_TASKS = (
    '"ID","ISDELETED","WHOID","WHATID","SUBJECT","ACTIVITYDATE","STATUS","PRIORITY",'
    '"OWNERID","DESCRIPTION","ACCOUNTID","TYPE","TASKSUBTYPE","ISCLOSED","CREATEDDATE"\n'
    '"00T5g00000TkAaAAAQ","false","0035g00000XyZaAAAV","0015g00000AbCdEAAV",'
    '"Appel : devis des fours","2025-03-04","Completed","High","0055g00000UsAaAAAQ",'
    '"Rappeler après la visite du dépôt","0015g00000AbCdEAAV","Call","Call","true",'
    '"2025-03-01T09:30:00.000Z"\n'
    '"00T5g00000TkAbAAAQ","false","","0015g00000AbCdFAAV","Envoyer le devis « Pétrin »",'
    '"2030-06-28","Not Started","Normal","0055g00000UsAaAAAQ","","0015g00000AbCdFAAV","",'
    '"Task","false","2025-03-02T10:00:00.000Z"\n'
    # about a lead: Comptoir links no activity to a lead, the activity lands without it
    '"00T5g00000TkAcAAAQ","false","00Q5g000001AaaAEAS","","Email: Relance salon",'
    '"2025-02-10","Completed","Normal","0055g00000UsAaAAAQ","Bonjour Jean…","","",'
    '"Email","true","2025-02-10T08:00:00.000Z"\n'
    # in the recycle bin
    '"00T5g00000TkAdAAAQ","true","","0015g00000AbCdEAAV","Supprimée","2025-03-05",'
    '"Completed","Normal","0055g00000UsAaAAAQ","","0015g00000AbCdEAAV","Call","Call","true",'
    '"2025-03-05T08:00:00.000Z"\n'
    # a type of the org's own: quarantined with the values expected
    '"00T5g00000TkAeAAAQ","false","","0015g00000AbCdEAAV","Visite du fournil","2025-03-06",'
    '"Completed","Normal","0055g00000UsAaAAAQ","","0015g00000AbCdEAAV","Site Visit","Task",'
    '"true","2025-03-06T08:00:00.000Z"\n'
    # an account that was not exported
    '"00T5g00000TkAfAAAQ","false","","0015g00000ZzZzZAAV","Appel perdu","2025-03-07",'
    '"Completed","Normal","0055g00000UsAaAAAQ","","0015g00000ZzZzZAAV","Call","Call","true",'
    '"2025-03-07T08:00:00.000Z"\n'
    # a date as a report in a French locale writes it
    '"00T5g00000TkAgAAAQ","false","0035g00000XyZbAAAV","0015g00000AbCdFAAV",'
    '"Réunion de chantier","15/07/2030","Waiting on someone else","Low",'
    '"0055g00000UsAaAAAQ","","0015g00000AbCdFAAV","Meeting","Task","false",'
    '"2025-03-08T08:00:00.000Z"\n'
)
SF_EVENTS = (
    '"ID","ISDELETED","WHOID","WHATID","SUBJECT","LOCATION","ISALLDAYEVENT","ACTIVITYDATE",'
    '"STARTDATETIME","ENDDATETIME","DESCRIPTION","ACCOUNTID","TYPE","EVENTSUBTYPE"\n'
    '"00U5g00000EvAaAAAQ","false","0035g00000XyZaAAAV","0015g00000AbCdEAAV",'
    '"Démonstration du four","Paris","false","2030-04-02","2030-04-02T08:30:00.000Z",'
    '"2030-04-02T10:00:00.000Z","","0015g00000AbCdEAAV","","Event"\n'
)


def test_salesforce_tasks_and_events(ventes: None, tmp_path: Path) -> None:  # noqa: F811
    load(tmp_path, "salesforce_accounts", "Account.csv", SF_ACCOUNTS)
    load(tmp_path, "salesforce_contacts", "Contact.csv", SF_CONTACTS)
    lefevre = Contact.objects.select_related("account").get(last_name="Lefèvre")
    run = load(tmp_path, "salesforce_tasks", "Task.csv", SF_TASKS)
    assert (run.created, run.quarantined) == (4, 2), reasons("salesforce_tasks")
    call = activity("Appel : devis des fours")
    assert (call.kind, call.done, call.body) == ("call", True,
                                                 "Rappeler après la visite du dépôt")
    assert (call.contact_id, call.account_id) == (lefevre.pk, lefevre.account_id)
    assert local_day(call.due_at) == dt.date(2025, 3, 4)
    assert call.done_at is not None
    quote = activity("Envoyer le devis « Pétrin »")
    assert (quote.kind, quote.done, quote.contact_id) == ("task", False, None)
    assert links(quote)[2] == "Atelier Dumas"
    assert local_day(quote.due_at) == dt.date(2030, 6, 28)
    assert quote.remind_at is not None  # 9:00 on the day, as a task planned in the app
    relance = activity("Email: Relance salon")  # the lead's task, without the lead
    assert (relance.kind, relance.done, relance.account_id, relance.contact_id) == (
        "email", True, None, None)
    issue = FieldIssue.objects.get(external_id="00T5g00000TkAcAAAQ")
    assert (issue.field, issue.value) == ("contact_external_id", "00Q5g000001AaaAEAS")
    assert "No record with this external id" in issue.reason
    meeting = activity("Réunion de chantier")
    assert (meeting.kind, meeting.done, links(meeting)[1]) == ("meeting", False, "Dumas")
    assert local_day(meeting.due_at) == dt.date(2030, 7, 15)  # dd/mm/yyyy read too
    assert not Activity.objects.filter(subject="Supprimée").exists()
    why = reasons("salesforce_tasks")
    assert set(why) == {"00T5g00000TkAeAAAQ", "00T5g00000TkAfAAAQ"}
    assert "Site Visit" in why["00T5g00000TkAeAAAQ"]
    assert "Send Quote" in why["00T5g00000TkAeAAAQ"]  # the values expected
    assert missing_parent("salesforce_tasks", "00T5g00000TkAfAAAQ") == "account_external_id"

    load(tmp_path, "salesforce_tasks", "Event.csv", SF_EVENTS)
    demo = activity("Démonstration du four")
    assert (demo.kind, demo.done, demo.contact_id) == ("meeting", False, lefevre.pk)
    assert (demo.start_at, demo.end_at) == (dt.datetime(2030, 4, 2, 8, 30, tzinfo=dt.UTC),
                                            dt.datetime(2030, 4, 2, 10, 0, tzinfo=dt.UTC))


SF_CASES = (
    '"ID","ISDELETED","CASENUMBER","CONTACTID","ACCOUNTID","SUBJECT","STATUS","PRIORITY",'
    '"ORIGIN","TYPE","REASON","DESCRIPTION","ISCLOSED","CLOSEDDATE","CREATEDDATE","OWNERID"\n'
    '"5005g00000CsAaAAAQ","false","00001001","0035g00000XyZaAAAV","0015g00000AbCdEAAV",'
    '"Le four n° 2 ne chauffe plus","New","High","Phone","Problem","Breakdown",'
    '"Sole froide depuis lundi","false","","2025-03-03T08:00:00.000Z","0055g00000UsAaAAAQ"\n'
    '"5005g00000CsAbAAAQ","false","00001002","","0015g00000AbCdFAAV",'
    '"Question sur la facture de février","Working","Medium","Email","Question","",'
    '"","false","","2025-03-04T08:00:00.000Z","0055g00000UsAaAAAQ"\n'
    # no subject: the start of the description
    '"5005g00000CsAcAAAQ","false","00001003","","0015g00000AbCdFAAV","","Closed","Low",'
    '"Web","Mechanical","","Pétrin bruyant\nDepuis la révision","true",'
    '"2025-03-06T16:00:00.000Z","2025-03-05T08:00:00.000Z","0055g00000UsAaAAAQ"\n'
    # a status of the org's own: quarantined with the values expected
    '"5005g00000CsAdAAAQ","false","00001004","","0015g00000AbCdEAAV","Pièce commandée",'
    '"Awaiting Parts","Medium","Phone","Problem","","","false","",'
    '"2025-03-06T08:00:00.000Z","0055g00000UsAaAAAQ"\n'
    # no account: every Comptoir case belongs to one
    '"5005g00000CsAeAAAQ","false","00001005","","","Demande web anonyme","New","Medium",'
    '"Web","Question","","","false","","2025-03-07T08:00:00.000Z","0055g00000UsAaAAAQ"\n'
    # an account that was not exported
    '"5005g00000CsAfAAAQ","false","00001006","","0015g00000ZzZzZAAV","Compte disparu",'
    '"New","Medium","Phone","Problem","","","false","","2025-03-08T08:00:00.000Z",'
    '"0055g00000UsAaAAAQ"\n'
    # in the recycle bin
    '"5005g00000CsAgAAAQ","true","00001007","","0015g00000AbCdEAAV","Supprimé","New",'
    '"Medium","Phone","Problem","","","false","","2025-03-09T08:00:00.000Z",'
    '"0055g00000UsAaAAAQ"\n'
)


def test_salesforce_cases(ventes: None, tmp_path: Path) -> None:  # noqa: F811
    load(tmp_path, "salesforce_accounts", "Account.csv", SF_ACCOUNTS)
    load(tmp_path, "salesforce_contacts", "Contact.csv", SF_CONTACTS)
    run = load(tmp_path, "salesforce_cases", "Case.csv", SF_CASES)
    assert (run.created, run.quarantined) == (3, 3), reasons("salesforce_cases")
    oven = case("Le four n° 2 ne chauffe plus")
    assert (oven.number, oven.status, oven.priority, oven.kind) == (
        "00001001", "new", "high", "support")
    assert links(oven) == (None, "Lefèvre", "Boulangeries Lefèvre")
    assert oven.description == "Sole froide depuis lundi"
    invoice = case("Question sur la facture de février")
    assert (invoice.status, invoice.priority, invoice.kind, invoice.contact_id) == (
        "open", "normal", "question", None)
    noisy = case("Pétrin bruyant Depuis la révision")
    assert (noisy.number, noisy.status, noisy.priority) == ("00001003", "closed", "low")
    assert noisy.closed_at is not None
    assert noisy.description == "Pétrin bruyant\nDepuis la révision"
    assert not Case.objects.filter(subject="Supprimé").exists()
    why = reasons("salesforce_cases")
    assert set(why) == {"5005g00000CsAdAAAQ", "5005g00000CsAeAAAQ", "5005g00000CsAfAAAQ"}
    assert "Awaiting Parts" in why["5005g00000CsAdAAAQ"]
    assert "Escalated" in why["5005g00000CsAdAAAQ"]  # the values expected
    assert "AccountId" in why["5005g00000CsAeAAAQ"]
    assert missing_parent("salesforce_cases", "5005g00000CsAfAAAQ") == "account_external_id"


# --- HubSpot --------------------------------------------------------------------------------

HS_COMPANIES = (
    "Record ID,Company name,Company Domain Name,Company owner,Create Date,Phone Number,"
    "Street Address,Street Address 2,City,Postal Code,Country/Region,Website URL,"
    "Lifecycle Stage,Industry,Number of Employees\n"
    "5001,Boulangerie Bernard,bernard.example,Marie Dupont,2024-01-10 09:12,"
    "+33 5 56 00 00 00,8 cours Victor Hugo,Bâtiment B,Bordeaux,33000,France,"
    "https://bernard.example,Customer,Food & Beverages,12\n"
    "5002,Transports Leroy,,,2024-01-11 10:00,,Rue Neuve 4,,Bruxelles,1000,Belgium,,"
    "salesqualifiedlead,,\n"
    # a lifecycle stage of the portal's own: a prospect
    "5003,Crêperie Ar Men,,,2024-01-12 10:00,,,,Quimper,29000,France,,Partenaire,,\n"
    # a country that is none
    "5004,Atlantis Corp,,,2024-01-13 10:00,,,,,,Atlantis,,lead,,\n"
    # no name: no key
    "5005,,anonyme.example,,2024-01-14 10:00,,,,,,France,,lead,,\n"
)


def test_hubspot_companies_then_contacts(ventes: None, tmp_path: Path) -> None:  # noqa: F811
    run = load(tmp_path, "hubspot_companies", "hubspot-crm-exports-all-companies.csv",
               HS_COMPANIES)
    assert (run.created, run.quarantined) == (3, 2), reasons("hubspot_companies")
    bernard = Account.objects.get(legal_name="Boulangerie Bernard")
    assert (bernard.status, bernard.phone, bernard.website) == (
        "customer", "+33556000000", "https://bernard.example")
    assert (bernard.billing_street, bernard.billing_postcode, bernard.billing_city,
            bernard.billing_country) == ("8 cours Victor Hugo, Bâtiment B", "33000",
                                         "Bordeaux", "FR")
    leroy = Account.objects.get(legal_name="Transports Leroy")
    assert (leroy.status, leroy.billing_country) == ("prospect", "BE")
    assert Account.objects.get(legal_name="Crêperie Ar Men").status == "prospect"
    why = reasons("hubspot_companies")
    assert "Atlantis" in why["ATLANTIS CORP"]
    assert len(why) == 2  # and the company without a name, keyed by its line

    # the contacts' companies are these accounts: none twice
    load(tmp_path, "hubspot_contacts", "hubspot-crm-exports-all-contacts.csv", HS_CONTACTS)
    assert Account.objects.count() == 3
    sophie = Contact.objects.get(email="sophie@bernard.example")
    assert sophie.account_id == bernard.pk
    assert Contact.objects.get(last_name="Leroy").account_id == leroy.pk
    bernard.refresh_from_db()
    assert bernard.phone == "+33556000000"  # what the contacts' file does not carry stays


HS_TICKETS = (
    "Ticket ID,Ticket name,Ticket description,Pipeline,Ticket status,Priority,Category,Source,"
    "Ticket owner,Associated Company,Associated Contact,Create date,Close date\n"
    "7001,Four en panne,Le four n° 2 ne chauffe plus,Support Pipeline,New,High,"
    "PRODUCT_ISSUE,Phone,Marie Dupont,Boulangerie Bernard,Sophie Bernard,"
    "2025-01-05 10:00,\n"
    "7002,Facture en double,,Support Pipeline,Waiting on contact,Medium,Billing issue,Email,"
    ",Transports Leroy,,2025-01-06 10:00,\n"
    "7003,Recette de galettes ?,Une question sur le sarrasin,Support Pipeline,Closed,Low,"
    "General inquiry,Chat,,Crêperie Ar Men,,2025-01-07 10:00,2025-01-08 11:00\n"
    "7004,Livraison urgente,,Support Pipeline,3,Urgent,,Email,,Boulangerie Bernard,,"
    "2025-01-09 10:00,\n"
    # a stage of another pipeline: quarantined with the values expected
    "7005,Bug du portail,,IT Pipeline,Escalated to engineering,High,,Form,,"
    "Boulangerie Bernard,,2025-01-10 10:00,\n"
    # no company: every Comptoir case belongs to an account
    "7006,Question anonyme,,Support Pipeline,New,,,Chat,,,,2025-01-11 10:00,\n"
)


def test_hubspot_companies_then_tickets(ventes: None, tmp_path: Path) -> None:  # noqa: F811
    load(tmp_path, "hubspot_companies", "hubspot-crm-exports-all-companies.csv",
         HS_COMPANIES)
    bernard = Account.objects.get(legal_name="Boulangerie Bernard")
    run = load(tmp_path, "hubspot_tickets", "hubspot-crm-exports-all-tickets.csv", HS_TICKETS)
    assert run.quarantined == 2, reasons("hubspot_tickets")
    assert Case.objects.count() == 4
    assert Account.objects.count() == 3  # the tickets' companies met the companies' accounts
    four = case("Four en panne")
    assert (four.number, four.status, four.priority, four.kind, four.account_id) == (
        "7001", "new", "high", "support", bernard.pk)
    assert four.description == "Le four n° 2 ne chauffe plus"
    double = case("Facture en double")
    assert (double.status, double.priority, double.account.legal_name) == (
        "waiting", "normal", "Transports Leroy")
    galettes = case("Recette de galettes ?")
    assert (galettes.status, galettes.priority, galettes.kind) == ("closed", "low", "question")
    assert galettes.account.legal_name == "Crêperie Ar Men"
    assert galettes.closed_at is not None
    urgent = case("Livraison urgente")  # the stage's id, as some exports write it
    assert (urgent.status, urgent.priority) == ("open", "urgent")
    why = reasons("hubspot_tickets")
    assert set(why) == {"7005", "7006"}
    assert "Escalated to engineering" in why["7005"]
    assert "Waiting on us" in why["7005"]  # the values expected
    assert "Associated Company" in why["7006"]


# --- Pipedrive ------------------------------------------------------------------------------

PD_ORGANIZATIONS = (
    "Organization - ID,Organization - Name,Organization - Owner,Organization - Label,"
    "Organization - Address,Organization - Address - House number,"
    "Organization - Address - Street/road name,"
    "Organization - Address - City/town/village/locality,"
    "Organization - Address - ZIP/Postal code,Organization - Address - Country,"
    "Organization - People,Organization - Open deals,Organization - Website\n"
    '1,Garage Moreau,Marie Dupont,Customer,"12 Boulevard National, 13001 Marseille, France",'
    "12,Boulevard National,Marseille,13001,France,1,2,https://garage-moreau.example\n"
    '2,Caron Paysage,Marie Dupont,Hot lead,"5 chemin des Écoles, 13100 Aix-en-Provence",'
    "5,chemin des Écoles,Aix-en-Provence,13100,,1,1,\n"
    # a label of the company's own: a prospect
    "3,Élagage Vidal,,Partenaire,,,,Liège,4000,Belgique,0,0,\n"
    # a country that is none
    "4,Atlantide,,,,,,,,Atlantide,0,0,\n"
)


def test_pipedrive_organizations_then_persons(ventes: None, tmp_path: Path) -> None:  # noqa: F811
    run = load(tmp_path, "pipedrive_organizations", "organizations-export.csv",
               PD_ORGANIZATIONS)
    assert (run.created, run.quarantined) == (3, 1), reasons("pipedrive_organizations")
    moreau = Account.objects.get(legal_name="Garage Moreau")
    assert (moreau.status, moreau.billing_street, moreau.billing_postcode,
            moreau.billing_city, moreau.billing_country, moreau.website) == (
        "customer", "12 Boulevard National", "13001", "Marseille", "FR",
        "https://garage-moreau.example")
    caron = Account.objects.get(legal_name="Caron Paysage")
    assert (caron.status, caron.billing_street, caron.billing_country) == (
        "prospect", "5 chemin des Écoles", "FR")
    vidal = Account.objects.get(legal_name="Élagage Vidal")
    assert (vidal.status, vidal.billing_city, vidal.billing_country) == ("prospect", "Liège",
                                                                         "BE")
    assert "Atlantide" in reasons("pipedrive_organizations")["ATLANTIDE"]

    load(tmp_path, "pipedrive_persons", "people-export.csv", PD_PERSONS)
    assert Account.objects.count() == 3  # the people's organizations are these accounts
    julien = Contact.objects.get(last_name="Moreau")
    assert julien.account_id == moreau.pk


PD_ACTIVITIES = (
    "Activity - ID,Activity - Subject,Activity - Type,Activity - Due date,Activity - Due time,"
    "Activity - Duration,Activity - Done,Activity - Note,Activity - Assigned to user,"
    "Deal - ID,Deal - Title,Person - ID,Person - Name,Organization - Name\n"
    "101,Appeler Julien pour le pont,Call,2025-06-02,09:30,00:15,Done,Devis envoyé,"
    "Marie Dupont,1,Pont élévateur,11,Julien Moreau,Garage Moreau\n"
    "102,Démo tondeuses chez Inès,Meeting,2030-04-15,14:00,01:00,To do,,Marie Dupont,3,"
    "Tondeuses,12,Inès Caron,Caron Paysage\n"
    "103,Relancer Élagage Vidal,Email,2025-05-20,,,Done,,,,,,,Élagage Vidal\n"
    "104,Échéance du devis,Deadline,2030-01-31,,,To do,,,,,,,Garage Moreau\n"
    # a deal that was not exported
    "105,Appel sur une affaire perdue,Call,2025-06-03,,,Done,,,99,Inconnue,,,Garage Moreau\n"
    # a type of the company's own: quarantined with the values expected
    "106,Visite de l'atelier,Visite,2025-06-04,,,Done,,,1,Pont élévateur,,,Garage Moreau\n"
    # a date in another format than Pipedrive's
    "107,Rappel,Call,04/06/2025,,,To do,,,,,11,Julien Moreau,Garage Moreau\n"
)


def test_pipedrive_activities(ventes: None, tmp_path: Path) -> None:  # noqa: F811
    load(tmp_path, "pipedrive_organizations", "organizations-export.csv", PD_ORGANIZATIONS)
    load(tmp_path, "pipedrive_persons", "people-export.csv", PD_PERSONS)
    load(tmp_path, "pipedrive_deals", "deals-export.csv", PD_DEALS)
    run = load(tmp_path, "pipedrive_activities", "activities-export.csv", PD_ACTIVITIES)
    assert (run.created, run.quarantined) == (4, 3), reasons("pipedrive_activities")
    call = activity("Appeler Julien pour le pont")
    assert (call.kind, call.done, call.body) == ("call", True, "Devis envoyé")
    assert links(call) == ("Pont élévateur", "Moreau", "Garage Moreau")
    assert local_day(call.due_at) == dt.date(2025, 6, 2)
    demo = activity("Démo tondeuses chez Inès")
    assert (demo.kind, demo.done) == ("meeting", False)
    assert links(demo) == ("Tondeuses", "Inès Caron", "Caron Paysage")
    assert local_day(demo.due_at) == dt.date(2030, 4, 15)
    relance = activity("Relancer Élagage Vidal")
    assert (relance.kind, relance.done) == ("email", True)
    assert links(relance) == (None, None, "Élagage Vidal")
    assert (activity("Échéance du devis").kind, activity("Échéance du devis").done) == (
        "task", False)
    why = reasons("pipedrive_activities")
    assert set(why) == {"105", "106", "107"}
    assert missing_parent("pipedrive_activities", "105") == "opportunity_external_id"
    assert "Visite" in why["106"]
    assert "Deadline" in why["106"]  # the values expected
    assert "04/06/2025" in why["107"]
    assert "%Y-%m-%d" in why["107"]  # the format expected


# --- Odoo -----------------------------------------------------------------------------------

ODOO_TICKETS = (
    "id,name,ticket_ref,partner_id/id,partner_id/parent_id/id,partner_id,team_id,user_id,"
    "stage_id,priority,ticket_type_id,description,tag_ids,create_date\n"
    # a person of a company: the company's case, with the person as its contact
    "__export__.helpdesk_ticket_1_aa,Escalier qui grince,00001,__export__.res_partner_8_c3d4,"
    '__export__.res_partner_7_a1b2,"Menuiserie Dubœuf SARL, Jérôme Dubœuf",Service client,'
    "Mitchell Admin,New,2,Issue,<p>La troisième marche grince.</p>,,2024-06-01 09:00:00\n"
    "__export__.helpdesk_ticket_2_bb,Devis fenêtres,00002,__export__.res_partner_9_e5f6,,"
    "Scierie Vallet,Service client,Mitchell Admin,In Progress,1,Question,,,"
    "2024-06-02 09:00:00\n"
    "__export__.helpdesk_ticket_3_cc,Livraison abîmée,00003,__export__.res_partner_7_a1b2,,"
    "Menuiserie Dubœuf SARL,Service client,,Résolu,3,Réclamation,,,2024-06-03 09:00:00\n"
    "__export__.helpdesk_ticket_4_dd,Colis bloqué,00004,__export__.res_partner_9_e5f6,,"
    "Scierie Vallet,Service client,,On Hold,0,,,,2024-06-04 09:00:00\n"
    # a stage of the team's own: quarantined with the values expected
    "__export__.helpdesk_ticket_5_ee,Garantie,00005,__export__.res_partner_9_e5f6,,"
    "Scierie Vallet,Service client,,Escalated,1,Issue,,,2024-06-05 09:00:00\n"
    # no customer
    "__export__.helpdesk_ticket_6_ff,Message du site,00006,,,,Service client,,New,1,,,,"
    "2024-06-06 09:00:00\n"
    # a customer that was not exported
    "__export__.helpdesk_ticket_7_gg,Client inconnu,00007,__export__.res_partner_99_zz,,"
    "Inconnu,Service client,,New,1,,,,2024-06-07 09:00:00\n"
)


def test_odoo_tickets(ventes: None, tmp_path: Path) -> None:  # noqa: F811
    load(tmp_path, "odoo_partners", "res.partner.csv", ODOO_PARTNERS, key_field="id")
    run = load(tmp_path, "odoo_tickets", "helpdesk.ticket.csv", ODOO_TICKETS, key_field="id")
    assert (run.created, run.quarantined) == (4, 3), reasons("odoo_tickets")
    duboeuf = Account.objects.get(legal_name="Menuiserie Dubœuf SARL")
    stairs = case("Escalier qui grince")
    assert stairs.account_id == duboeuf.pk
    assert links(stairs)[1] == "Jérôme Dubœuf"
    assert (stairs.number, stairs.status, stairs.priority, stairs.kind) == (
        "00001", "new", "high", "support")
    assert stairs.description == "<p>La troisième marche grince.</p>"
    quote = case("Devis fenêtres")
    assert (quote.account.legal_name, quote.contact_id, quote.status, quote.priority,
            quote.kind) == ("Scierie Vallet", None, "open", "normal", "question")
    damaged = case("Livraison abîmée")
    assert (damaged.account_id, damaged.status, damaged.priority, damaged.kind) == (
        duboeuf.pk, "resolved", "urgent", "complaint")
    assert damaged.closed_at is not None
    held = case("Colis bloqué")
    assert (held.status, held.priority, held.kind) == ("waiting", "low", "support")
    why = reasons("odoo_tickets")
    assert set(why) == {"__export__.helpdesk_ticket_5_ee", "__export__.helpdesk_ticket_6_ff",
                        "__export__.helpdesk_ticket_7_gg"}
    assert "Escalated" in why["__export__.helpdesk_ticket_5_ee"]
    assert "Solved" in why["__export__.helpdesk_ticket_5_ee"]  # the values expected
    assert "partner_id/id" in why["__export__.helpdesk_ticket_6_ff"]
    assert missing_parent("odoo_tickets",
                          "__export__.helpdesk_ticket_7_gg") == "account_external_id"


# --- The import wizard proposes each of them for its object -----------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("name", "filename", "text", "object_type"), [
    ("salesforce_tasks", "Task.csv", SF_TASKS, "activity"),
    ("salesforce_tasks", "Event.csv", SF_EVENTS, "activity"),
    ("salesforce_cases", "Case.csv", SF_CASES, "case"),
    ("hubspot_companies", "hubspot-crm-exports-all-companies.csv", HS_COMPANIES, "account"),
    ("hubspot_tickets", "hubspot-crm-exports-all-tickets.csv", HS_TICKETS, "case"),
    ("pipedrive_organizations", "organizations-export.csv", PD_ORGANIZATIONS, "account"),
    ("pipedrive_activities", "activities-export.csv", PD_ACTIVITIES, "activity"),
    ("odoo_tickets", "helpdesk.ticket.csv", ODOO_TICKETS, "case"),
])
def test_the_wizard_proposes_the_mapping_of_each_export(
        data_manager: Any, name: str, filename: str, text: str, object_type: str) -> None:
    job = imports.import_create(user=data_manager, object_type=object_type,
                                upload=SimpleUploadedFile(filename, text.encode("utf-8"),
                                                          content_type="text/csv"))
    assert [preset for preset, _label in imports.presets_for(job)] == [name]
    assert job.options["preset"] == name


@pytest.mark.django_db
def test_the_wizard_does_not_propose_them_for_a_plain_file(data_manager: Any) -> None:
    for object_type, text in (("activity", "Id;Subject;Date\n1;Appel;04/03/2025\n"),
                              ("account", "Name;City\nBoulangerie;Lyon\n"),
                              ("case", "id;name;stage_id\n1;Panne;New\n")):
        job = imports.import_create(user=data_manager, object_type=object_type,
                                    upload=SimpleUploadedFile("fichier.csv", text.encode(),
                                                              content_type="text/csv"))
        assert imports.presets_for(job) == [], object_type


# --- Header spellings of those exports: the wizard maps their columns by itself -------------

@pytest.mark.parametrize(("object_type", "columns", "expected"), [
    # Salesforce: Task and Event (Data Loader), Case
    ("activity", "Id|Subject|ActivityDate|StartDateTime|EndDateTime|EventSubtype|"
                 "Description|AccountId|OwnerId",
     {"Subject": "subject", "ActivityDate": "due_at", "StartDateTime": "start_at",
      "EndDateTime": "end_at", "EventSubtype": "kind", "Description": "body",
      "AccountId": "account_external_id"}),
    ("case", "Id|CaseNumber|AccountId|ContactId|Subject|Status|Priority|Origin|Type|"
             "Description",
     {"CaseNumber": "number", "AccountId": "account_external_id",
      "ContactId": "contact_external_id", "Subject": "subject", "Status": "status",
      "Priority": "priority", "Type": "kind", "Description": "description"}),
    # HubSpot tickets: the stage under its other name
    ("case", "Ticket ID|Ticket name|Pipeline|Pipeline stage|Priority|Associated Company",
     {"Ticket name": "subject", "Pipeline stage": "status", "Priority": "priority",
      "Associated Company": "account_by_name"}),
    # Pipedrive: an organization's address parts
    ("account", "Organization - ID|Organization - Name|"
                "Organization - Address - City/town/village/locality|"
                "Organization - Address - ZIP/Postal code|Organization - Address - Country|"
                "Organization - Website|Organization - Owner",
     {"Organization - Name": "legal_name",
      "Organization - Address - City/town/village/locality": "billing_city",
      "Organization - Address - ZIP/Postal code": "billing_postcode",
      "Organization - Address - Country": "billing_country",
      "Organization - Website": "website"}),
    ("activity", "Activity - ID|Activity - Subject|Activity - Type|Activity - Due date|"
                 "Activity - Done|Activity - Note|Deal - ID|Person - ID|Organization - Name",
     {"Activity - Subject": "subject", "Activity - Type": "kind",
      "Activity - Due date": "due_at", "Activity - Done": "done", "Activity - Note": "body",
      "Deal - ID": "opportunity_external_id", "Person - ID": "contact_external_id",
      "Organization - Name": "account_by_name"}),
    # Odoo: helpdesk.ticket, import-compatible
    ("case", "id|name|ticket_ref|partner_id/id|stage_id|priority|ticket_type_id|description",
     {"name": "subject", "ticket_ref": "number", "partner_id/id": "account_external_id",
      "stage_id": "status", "priority": "priority", "ticket_type_id": "kind",
      "description": "description"}),
])
def test_header_spellings_of_the_more_exports(object_type: str, columns: str,
                                              expected: dict[str, str]) -> None:
    assert mapped(object_type, columns) == expected
