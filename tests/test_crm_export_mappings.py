"""The ready-made mappings of other CRMs' exports (Salesforce, HubSpot, Pipedrive, Odoo), run
through a files connection on files shaped like those systems' real exports: their column
names, date and amount formats, picklist values, and a few messy rows (empty amount, unknown
stage, no company…) that must land or be quarantined with their reason, never dropped.
Plus the header spellings: the import wizard maps each system's columns by itself."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation

from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.integration.imports import auto_mapping_for
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.integration.services import sync_run
from comptoir.testing import factories

# The demo's pipeline ("Ventes"): the stage names the mappings translate to.
STAGES = (("Qualification", 10, False, False), ("Découverte", 25, False, False),
          ("Proposition", 50, False, False), ("Négociation", 75, False, False),
          ("Gagné", 100, True, False), ("Perdu", 0, False, True))


@pytest.fixture
def ventes(db: None) -> None:
    factories.pipeline(name="Ventes", stages=STAGES)


def load(tmp_path: Path, mapping: str, name: str, text: str, *,
         key_field: str | None = None, encoding: str = "utf-8") -> SyncRun:
    """One files connection with the shipped ``mapping``, on one file holding ``text``."""
    inbox = tmp_path / mapping
    inbox.mkdir(exist_ok=True)
    (inbox / name).write_bytes(text.encode(encoding))
    parameters = {"path": str(inbox)} | ({"key_field": key_field} if key_field else {})
    connection, _new = Connection.objects.get_or_create(
        name=mapping, defaults={"connector": "files", "mapping": builtin_mapping(mapping),
                                "parameters": parameters})
    with translation.override("en"):  # the reasons, as asserted
        run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    return run


def reasons(mapping: str) -> dict[str, str]:
    """External id → why it waits in quarantine, for one connection."""
    return {q.external_id: q.reason for q in
            QuarantinedRecord.objects.filter(connection__name=mapping)}


def deal(name: str) -> Opportunity:
    return Opportunity.objects.select_related("stage", "account", "contact").get(name=name)


# --- Salesforce -----------------------------------------------------------------------------

SF_LEADS = (
    '"ID","ISDELETED","SALUTATION","FIRSTNAME","LASTNAME","COMPANY","TITLE","EMAIL","PHONE",'
    '"MOBILEPHONE","STREET","POSTALCODE","CITY","COUNTRY","LEADSOURCE","STATUS","ISCONVERTED",'
    '"DESCRIPTION","CREATEDDATE"\n'
    '"00Q5g000001AaaAEAS","false","Mr.","Jean","Martin","Menuiserie Martin","Gérant",'
    '"J.Martin@Menuiserie-Martin.example","+33 4 76 11 22 33","","12 rue des Alpes","38000",'
    '"Grenoble","France","Web","Open - Not Contacted","false","Vu au salon",'
    '"2024-03-01T09:30:00.000Z"\n'
    '"00Q5g000001AbbAEAS","false","Ms.","Claire","Petit","Atelier Petit","","",""'
    ',"+32 470 12 34 56","Rue Neuve 4","1000","Bruxelles","Belgium","Partner Referral",'
    '"Working - Contacted","false","","2024-03-02T10:00:00.000Z"\n'
    '"00Q5g000001AccAEAS","false","","Luc","Girard","Girard SA","","luc@girard.example","",""'
    ',"","","","","Billboard","Closed - Not Converted","false","","2024-03-03T10:00:00.000Z"\n'
    # converted: its account, contact and deal come with the other files
    '"00Q5g000001AddAEAS","false","","Anne","Roy","Roy SARL","","anne@roy.example","","",""'
    ',"","","","Web","Closed - Converted","true","","2024-03-04T10:00:00.000Z"\n'
    # in the recycle bin
    '"00Q5g000001AeeAEAS","true","","Paul","Vidal","Vidal","","paul@vidal.example","","",""'
    ',"","","","Web","Open - Not Contacted","false","","2024-03-05T10:00:00.000Z"\n'
    # an org's own status value: quarantined with the values expected
    '"00Q5g000001AffAEAS","false","","Marc","Blanc","Blanc & Co","","marc@blanc.example","",""'
    ',"","","","","Web","Recycled","false","","2024-03-06T10:00:00.000Z"\n'
    # neither e-mail nor phone: not a lead Comptoir can work
    '"00Q5g000001AggAEAS","false","","Eve","Noir","Noir","","","","","","","","","Other",'
    '"Open - Not Contacted","false","","2024-03-07T10:00:00.000Z"\n'
)


def test_salesforce_leads(ventes: None, tmp_path: Path) -> None:
    run = load(tmp_path, "salesforce_leads", "Lead.csv", SF_LEADS)
    assert (run.created, run.quarantined) == (3, 2)
    martin = Lead.objects.get(last_name="Martin")
    assert (martin.civility, martin.first_name, martin.company_name, martin.job_title) == (
        "M.", "Jean", "Menuiserie Martin", "Gérant")
    assert (martin.email, martin.street, martin.postcode, martin.city, martin.country) == (
        "j.martin@menuiserie-martin.example", "12 rue des Alpes", "38000", "Grenoble", "FR")
    assert (martin.source, martin.status, martin.description) == ("web_form", "new",
                                                                    "Vu au salon")
    petit = Lead.objects.get(last_name="Petit")
    assert (petit.civility, petit.status, petit.source, petit.country) == (
        "Mme", "working", "partner_portal", "BE")
    assert petit.phone  # the mobile, the lead's only phone
    girard = Lead.objects.get(last_name="Girard")
    assert (girard.status, girard.source) == ("disqualified", "other")
    assert not Lead.objects.filter(last_name__in=["Roy", "Vidal"]).exists()
    why = reasons("salesforce_leads")
    assert set(why) == {"00Q5g000001AffAEAS", "00Q5g000001AggAEAS"}
    assert "Recycled" in why["00Q5g000001AffAEAS"]
    assert "Open - Not Contacted" in why["00Q5g000001AffAEAS"]  # the values expected
    assert "e-mail or a phone" in why["00Q5g000001AggAEAS"]


SF_ACCOUNTS = (
    "Id,IsDeleted,Name,Type,ParentId,BillingStreet,BillingPostalCode,BillingCity,"
    "BillingCountry,Phone,Website\n"
    "0015g00000AbCdEAAV,false,Boulangeries Lefèvre,Customer,,12 rue de la Paix,75002,Paris,"
    "France,,\n"
    "0015g00000AbCdFAAV,false,Atelier Dumas,Prospect,,3 quai Perrache,69002,Lyon,France,,\n"
)
# A report exported as "Details only" in a French locale: labels, dd/mm/yyyy, "12 500,00".
SF_OPPORTUNITIES = (
    '"Opportunity ID","Opportunity Name","Account ID","Account Name","Stage","Amount",'
    '"Close Date","Probability (%)","Loss Reason","Description"\n'
    '"0065g00000OpAaAAAQ","Fours Lefèvre 2025","0015g00000AbCdEAAV","Boulangeries Lefèvre",'
    '"Prospecting","12 500,00","30/06/2025","10%","","Deux fours à sole"\n'
    '"0065g00000OpAbAAAQ","Pétrin Dumas","0015g00000AbCdFAAV","Atelier Dumas","Closed Won",'
    '"","15/01/2025","100%","",""\n'
    '"0065g00000OpAcAAAQ","Vitrine Lefèvre","0015g00000AbCdEAAV","Boulangeries Lefèvre",'
    '"Closed Lost","3 200,50","2025-02-28","0%","Prix trop élevé",""\n'
    '"0065g00000OpAdAAAQ","Chambre froide","0015g00000AbCdFAAV","Atelier Dumas",'
    '"Perception Analysis","8000","31/07/2025","70%","",""\n'
    # a stage of the org's own: quarantined, the expected values listed
    '"0065g00000OpAeAAAQ","Contrat maintenance","0015g00000AbCdEAAV","Boulangeries Lefèvre",'
    '"Contract Signed","1 000,00","31/12/2025","90%","",""\n'
    # lost without a reason
    '"0065g00000OpAfAAAQ","Balance","0015g00000AbCdEAAV","Boulangeries Lefèvre","Closed Lost",'
    '"500","31/03/2025","0%","",""\n'
    # an account that was not exported
    '"0065g00000OpAgAAAQ","Inconnu","0015g00000ZzZzZAAV","Disparue","Prospecting","100",'
    '"31/03/2025","10%","",""\n'
)


def test_salesforce_opportunities(ventes: None, tmp_path: Path) -> None:
    accounts = load(tmp_path, "salesforce_accounts", "Account.csv", SF_ACCOUNTS)
    assert accounts.created == 2
    run = load(tmp_path, "salesforce_opportunities", "Opportunity.csv", SF_OPPORTUNITIES)
    assert (run.created, run.quarantined) == (4, 3)
    fours = deal("Fours Lefèvre 2025")
    assert fours.account.legal_name == "Boulangeries Lefèvre"
    assert (fours.stage.name, fours.status, fours.probability) == ("Qualification", "open", 10)
    assert (fours.amount, fours.expected_close_date) == (Decimal("12500.00"),
                                                         dt.date(2025, 6, 30))
    assert (fours.currency, fours.description) == ("EUR", "Deux fours à sole")
    petrin = deal("Pétrin Dumas")
    assert (petrin.stage.name, petrin.status, petrin.amount) == ("Gagné", "won", Decimal(0))
    assert petrin.closed_at is not None
    vitrine = deal("Vitrine Lefèvre")
    assert (vitrine.status, vitrine.lost_reason, vitrine.amount) == (
        "lost", "Prix trop élevé", Decimal("3200.50"))
    assert vitrine.expected_close_date == dt.date(2025, 2, 28)  # yyyy-mm-dd read too
    assert deal("Chambre froide").stage.name == "Découverte"
    why = reasons("salesforce_opportunities")
    assert set(why) == {"0065g00000OpAeAAAQ", "0065g00000OpAfAAAQ", "0065g00000OpAgAAAQ"}
    assert "Contract Signed" in why["0065g00000OpAeAAAQ"]
    assert "lost" in why["0065g00000OpAfAAAQ"]
    assert "No record with this external id" in why["0065g00000OpAgAAAQ"]


# --- HubSpot --------------------------------------------------------------------------------

HS_CONTACTS = (
    "Record ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Job Title,"
    "Company Name,Associated Company,Lifecycle Stage,Contact owner,Create Date,"
    "Street Address,City,Postal Code,Country/Region,Unsubscribed from all email\n"
    "101,Sophie,Bernard,sophie@bernard.example,+33 5 56 00 00 01,+33 6 10 00 00 01,Gérante,"
    "Boulangerie Bernard,Boulangerie Bernard,customer,Marie Dupont,2024-01-10 09:12,"
    "8 cours Victor Hugo,Bordeaux,33000,France,false\n"
    # only the company the person typed in a form
    "102,Marc,Leroy,marc@leroy.example,,,,Transports Leroy,,lead,,2024-02-11 10:00,,,,,true\n"
    # the same company, with stray spaces
    "103,Julie,Faure,julie@bernard.example,,,Comptable,, Boulangerie  Bernard ,customer,,"
    "2024-02-12 11:30,,,,,\n"
    # no company at all: a Comptoir contact belongs to an account
    "104,Nina,Solo,nina@solo.example,,,,,,subscriber,,2024-02-13 08:00,,,,,\n"
    # an e-mail that is not one: the contact lands without it
    "105,Hugo,Vidal,pas-un-email,,,,Transports Leroy,,lead,,2024-02-14 08:00,,,,,false\n"
)
HS_DEALS = (
    "Record ID,Deal Name,Deal Stage,Pipeline,Amount,Close Date,Deal owner,Associated Company,"
    "Closed Lost Reason,Create Date\n"
    "9001,Four Bernard,appointmentscheduled,Sales Pipeline,15000,2025-07-31 00:00,"
    "Marie Dupont,Boulangerie Bernard,,2025-01-05 10:00\n"
    "9002,Camion Leroy,Closed Won,Sales Pipeline,,2025-03-31 00:00,Marie Dupont,"
    "Transports Leroy,,2025-01-06 10:00\n"
    "9003,Pétrin Bernard,closedlost,Sales Pipeline,4200.5,2025-02-28 00:00,,"
    "Boulangerie Bernard,Concurrent retenu,2025-01-07 10:00\n"
    "9004,Ateliers Faure,decisionmakerboughtin,Sales Pipeline,9000,2025-09-30 00:00,,"
    "Ateliers Faure,,2025-01-08 10:00\n"
    # a stage of another pipeline: quarantined with the values expected
    "9005,Maintenance,onboarding,Service Pipeline,1200,2025-09-30 00:00,,"
    "Boulangerie Bernard,,2025-01-09 10:00\n"
    # no company
    "9006,Sans société,appointmentscheduled,Sales Pipeline,100,2025-09-30 00:00,,,,"
    "2025-01-10 10:00\n"
)


def test_hubspot_contacts_then_deals(ventes: None, tmp_path: Path) -> None:
    run = load(tmp_path, "hubspot_contacts", "hubspot-crm-exports-all-contacts.csv",
               HS_CONTACTS)
    assert run.quarantined == 1, reasons("hubspot_contacts")
    assert sorted(Account.objects.values_list("legal_name", flat=True)) == [
        "Boulangerie Bernard", "Transports Leroy"]
    sophie = Contact.objects.select_related("account").get(last_name="Bernard")
    assert (sophie.first_name, sophie.email, sophie.job_title, sophie.account.legal_name) == (
        "Sophie", "sophie@bernard.example", "Gérante", "Boulangerie Bernard")
    assert (sophie.phone, sophie.mobile) == ("+33556000001", "+33610000001")
    assert (sophie.mailing_city, sophie.mailing_postcode, sophie.mailing_country) == (
        "Bordeaux", "33000", "FR")
    assert sophie.marketing_consent == "unknown"
    leroy = Contact.objects.select_related("account").get(last_name="Leroy")
    assert (leroy.account.legal_name, leroy.marketing_consent) == ("Transports Leroy",
                                                                   "opt_out")
    assert Contact.objects.get(last_name="Faure").account_id == sophie.account_id
    assert Contact.objects.get(last_name="Vidal").email == ""  # dropped, not the contact
    assert list(reasons("hubspot_contacts")) == ["104"]
    assert "Company Name" in reasons("hubspot_contacts")["104"]

    run = load(tmp_path, "hubspot_deals", "hubspot-crm-exports-all-deals.csv", HS_DEALS)
    assert run.quarantined == 2, reasons("hubspot_deals")
    # the deals' companies are the contacts' accounts: one more, no duplicate
    assert sorted(Account.objects.values_list("legal_name", flat=True)) == [
        "Ateliers Faure", "Boulangerie Bernard", "Transports Leroy"]
    four = deal("Four Bernard")
    assert (four.account_id, four.stage.name, four.amount, four.expected_close_date) == (
        sophie.account_id, "Qualification", Decimal("15000.00"), dt.date(2025, 7, 31))
    camion = deal("Camion Leroy")
    assert (camion.stage.name, camion.status, camion.amount) == ("Gagné", "won", Decimal(0))
    petrin = deal("Pétrin Bernard")
    assert (petrin.status, petrin.lost_reason, petrin.amount) == (
        "lost", "Concurrent retenu", Decimal("4200.50"))
    assert deal("Ateliers Faure").stage.name == "Négociation"
    why = reasons("hubspot_deals")
    assert set(why) == {"9005", "9006"}
    assert "onboarding" in why["9005"]
    assert "appointmentscheduled" in why["9005"]  # the values expected
    assert "Associated Company" in why["9006"]


# --- Pipedrive ------------------------------------------------------------------------------

PD_PERSONS = (
    "Person - ID,Person - Name,Person - First name,Person - Last name,Person - Organization,"
    "Person - Email - Work,Person - Phone - Work,Person - Phone - Mobile,Person - Owner,"
    "Person - Label\n"
    "11,Julien Moreau,Julien,Moreau,Garage Moreau,julien@garage-moreau.example,"
    "04 91 00 00 01,06 20 00 00 01,Marie Dupont,Hot lead\n"
    "12,Inès Caron,,,Caron Paysage,ines@caron.example,,,Marie Dupont,\n"
    "13,Sans Organisation,Sans,Organisation,,sans@orga.example,,,,\n"
)
PD_DEALS = (
    "Deal - ID,Deal - Title,Deal - Creator,Deal - Owner,Deal - Value,Deal - Currency,"
    "Deal - Organization,Deal - Contact person,Person - ID,Deal - Pipeline,Deal - Stage,"
    "Deal - Status,Deal - Expected close date,Deal - Lost reason,Deal - Deal created\n"
    "1,Pont élévateur,Marie Dupont,Marie Dupont,8000,EUR,Garage Moreau,Julien Moreau,11,"
    "Pipeline,Proposal Made,Open,2025-06-30,,2025-01-02 09:00:00\n"
    # won, whatever its last stage; no value
    "2,Compresseur,Marie Dupont,Marie Dupont,,EUR,Garage Moreau,,,Pipeline,"
    "Negotiations Started,Won,2025-03-15,,2025-01-03 09:00:00\n"
    "3,Tondeuses,Marie Dupont,Marie Dupont,2450.75,EUR,Caron Paysage,Inès Caron,12,Pipeline,"
    "Qualified,Lost,2025-04-30,Pas de budget cette année,2025-01-04 09:00:00\n"
    # a stage of the company's own: quarantined with the values expected
    "4,Atelier mobile,Marie Dupont,Marie Dupont,5000,EUR,Caron Paysage,,,Pipeline,"
    "Waiting for budget,Open,2025-12-31,,2025-01-05 09:00:00\n"
    # a date in another format than Pipedrive's
    "5,Banc de test,Marie Dupont,Marie Dupont,1500,EUR,Garage Moreau,,,Pipeline,"
    "Contact Made,Open,31/12/2025,,2025-01-06 09:00:00\n"
)


def test_pipedrive_persons_then_deals(ventes: None, tmp_path: Path) -> None:
    run = load(tmp_path, "pipedrive_persons", "people-export.csv", PD_PERSONS)
    assert run.quarantined == 1
    julien = Contact.objects.select_related("account").get(last_name="Moreau")
    assert (julien.first_name, julien.email, julien.phone, julien.mobile) == (
        "Julien", "julien@garage-moreau.example", "+33491000001", "+33620000001")
    assert julien.account.legal_name == "Garage Moreau"
    ines = Contact.objects.select_related("account").get(account__legal_name="Caron Paysage")
    assert (ines.first_name, ines.last_name) == ("", "Inès Caron")  # one name: the last name
    assert "Person - Organization" in reasons("pipedrive_persons")["13"]

    run = load(tmp_path, "pipedrive_deals", "deals-export.csv", PD_DEALS)
    assert (run.created, run.quarantined) == (3, 2), reasons("pipedrive_deals")
    assert Account.objects.count() == 2  # the persons' organizations, met again
    pont = deal("Pont élévateur")
    assert (pont.stage.name, pont.status, pont.amount, pont.currency) == (
        "Proposition", "open", Decimal("8000.00"), "EUR")
    assert (pont.contact_id, pont.account_id) == (julien.pk, julien.account_id)
    assert pont.expected_close_date == dt.date(2025, 6, 30)
    compresseur = deal("Compresseur")
    assert (compresseur.stage.name, compresseur.status, compresseur.amount) == (
        "Gagné", "won", Decimal(0))
    tondeuses = deal("Tondeuses")
    assert (tondeuses.stage.name, tondeuses.status, tondeuses.lost_reason) == (
        "Perdu", "lost", "Pas de budget cette année")
    assert tondeuses.contact_id == ines.pk
    why = reasons("pipedrive_deals")
    assert set(why) == {"4", "5"}
    assert "Waiting for budget" in why["4"]
    assert "31/12/2025" in why["5"]
    assert "%Y-%m-%d" in why["5"]  # the format expected


# --- Odoo -----------------------------------------------------------------------------------

ODOO_PARTNERS = (
    "id,name,is_company,type,parent_id/id,title,function,street,street2,zip,city,country_id,"
    "phone,mobile,email,vat,website\n"
    "__export__.res_partner_7_a1b2,Menuiserie Dubœuf SARL,True,contact,,,,14 avenue Jean "
    "Jaurès,,38000,Grenoble,France,04 76 00 00 00,,contact@duboeuf.example,,\n"
    "__export__.res_partner_8_c3d4,Jérôme Dubœuf,False,contact,__export__.res_partner_7_a1b2,"
    "Mister,Gérant,,,,,,,,jerome@duboeuf.example,,\n"
    "__export__.res_partner_9_e5f6,Scierie Vallet,True,contact,,,,2 route du Bois,,73000,"
    "Chambéry,France,,,,,\n"
)
# One crm.lead export ("import-compatible"), leads and opportunities mixed.
ODOO_CRM = (
    "id,name,type,partner_id/id,partner_id/parent_id/id,partner_name,contact_name,title,"
    "function,email_from,phone,mobile,website,street,street2,zip,city,country_id,stage_id,"
    "expected_revenue,probability,date_deadline,active,lost_reason_id,source_id,description,"
    "user_id,create_date\n"
    "__export__.crm_lead_1_aa,Fromagerie Roux : site web,lead,,,Fromagerie Roux,Paul Roux,"
    "Mister,Gérant,paul@roux.example,04 78 00 00 01,,,5 place Bellecour,Bât. A,69002,Lyon,"
    "France,New,0.0,10.0,,True,,Search engine,,Mitchell Admin,2024-05-02 14:03:11\n"
    "__export__.crm_lead_2_bb,Demande de devis,lead,,,Chez Léa,Léa Morel,Madam,,"
    "lea@morel.example,,,,,,,,,New,0.0,0.0,,False,,Newsletter,Plus intéressée,"
    "Mitchell Admin,2024-05-03 09:00:00\n"
    "__export__.crm_lead_3_cc,Lead muet,lead,,,Muet SA,Jean Muet,,,,,,,,,,,,New,0.0,10.0,,"
    "True,,,,,2024-05-04 09:00:00\n"
    "__export__.crm_lead_4_dd,Escalier chêne,opportunity,__export__.res_partner_7_a1b2,,"
    ",,,,,,,,,,,,,Proposition,12500.0,50.0,2025-09-30,True,,,Escalier deux quarts tournants,"
    "Mitchell Admin,2024-05-05 09:00:00\n"
    "__export__.crm_lead_5_ee,Parquet bureaux,opportunity,__export__.res_partner_8_c3d4,"
    "__export__.res_partner_7_a1b2,,,,,,,,,,,,,,Won,8400.0,100.0,2025-04-15,True,,,,"
    "Mitchell Admin,2024-05-06 09:00:00\n"
    "__export__.crm_lead_6_ff,Charpente hangar,opportunity,__export__.res_partner_9_e5f6,,"
    ",,,,,,,,,,,,,Qualified,30000.0,0.0,2025-03-31,False,Prix trop élevé,,,"
    "Mitchell Admin,2024-05-07 09:00:00\n"
    "__export__.crm_lead_7_gg,Terrasse,opportunity,__export__.res_partner_9_e5f6,,,,,,,,,,"
    ",,,,,Demo,5000.0,20.0,2025-10-31,True,,,,Mitchell Admin,2024-05-08 09:00:00\n"
    "__export__.crm_lead_8_hh,Sans client,opportunity,,,,,,,,,,,,,,,,New,,10.0,,True,,,,"
    "Mitchell Admin,2024-05-09 09:00:00\n"
)


def test_odoo_leads_and_opportunities(ventes: None, tmp_path: Path) -> None:
    partners = load(tmp_path, "odoo_partners", "res.partner.csv", ODOO_PARTNERS,
                    key_field="id")
    assert partners.quarantined == 0
    leads = load(tmp_path, "odoo_leads", "crm.lead.csv", ODOO_CRM, key_field="id")
    assert (leads.created, leads.quarantined) == (2, 1)
    roux = Lead.objects.get(company_name="Fromagerie Roux")
    assert (roux.last_name, roux.civility, roux.job_title, roux.email) == (
        "Paul Roux", "M.", "Gérant", "paul@roux.example")
    assert (roux.street, roux.postcode, roux.city, roux.country) == (
        "5 place Bellecour, Bât. A", "69002", "Lyon", "FR")
    assert (roux.status, roux.source) == ("new", "web_visit")
    morel = Lead.objects.get(last_name="Léa Morel")
    assert (morel.civility, morel.status, morel.source, morel.description) == (
        "Mme", "disqualified", "newsletter", "Plus intéressée")
    assert "e-mail or a phone" in reasons("odoo_leads")["__export__.crm_lead_3_cc"]
    assert not Opportunity.objects.exists()  # the leads' mapping leaves the opportunities

    deals = load(tmp_path, "odoo_opportunities", "crm.lead.csv", ODOO_CRM, key_field="id")
    assert (deals.created, deals.quarantined) == (3, 2)
    escalier = deal("Escalier chêne")
    assert escalier.account.legal_name == "Menuiserie Dubœuf SARL"
    assert (escalier.stage.name, escalier.amount, escalier.expected_close_date) == (
        "Proposition", Decimal("12500.00"), dt.date(2025, 9, 30))
    assert escalier.description == "Escalier deux quarts tournants"
    parquet = deal("Parquet bureaux")  # a person's deal goes to the person's company
    assert (parquet.account_id, parquet.stage.name, parquet.status) == (
        escalier.account_id, "Gagné", "won")
    charpente = deal("Charpente hangar")  # archived: lost, with its reason
    assert (charpente.stage.name, charpente.status, charpente.lost_reason) == (
        "Perdu", "lost", "Prix trop élevé")
    why = reasons("odoo_opportunities")
    assert set(why) == {"__export__.crm_lead_7_gg", "__export__.crm_lead_8_hh"}
    assert "Demo" in why["__export__.crm_lead_7_gg"]
    assert "partner_id/id" in why["__export__.crm_lead_8_hh"]
    assert Lead.objects.count() == 2  # and the deals' mapping left the leads


# --- Header spellings: the wizard maps each system's columns by itself ----------------------

def mapped(object_type: str, columns: str) -> dict[str, str]:
    """Column → field proposed by the import wizard, the columns it leaves out omitted."""
    out = auto_mapping_for(object_type, columns.split("|"))
    return {column: name for column, name in out.items() if name}


@pytest.mark.parametrize(("object_type", "columns", "expected"), [
    # Salesforce: report labels
    ("account", "Account Name|Billing Street|Billing Zip/Postal Code|Billing City|"
                "Billing Country|Phone|Website|Account Owner",
     {"Account Name": "legal_name", "Billing Street": "billing_street",
      "Billing Zip/Postal Code": "billing_postcode", "Billing City": "billing_city",
      "Billing Country": "billing_country", "Phone": "phone", "Website": "website"}),
    ("lead", "Lead ID|Salutation|First Name|Last Name|Title|Company / Account|Email|Phone|"
             "Mobile|Street|Zip/Postal Code|City|Country|Lead Source|Lead Status|Lead Owner",
     {"Salutation": "civility", "First Name": "first_name", "Last Name": "last_name",
      "Title": "job_title", "Company / Account": "company_name", "Email": "email",
      "Phone": "phone", "Street": "street", "Zip/Postal Code": "postcode", "City": "city",
      "Country": "country", "Lead Source": "source", "Lead Status": "status"}),
    ("opportunity", "Opportunity ID|Opportunity Name|Account Name|Stage|Amount|"
                    "Close Date|Probability (%)|Opportunity Owner|Description",
     {"Opportunity Name": "name", "Stage": "stage", "Account Name": "account_by_name",
      "Amount": "amount", "Close Date": "expected_close_date",
      "Probability (%)": "probability", "Description": "description"}),
    ("activity", "Subject|Due Date|Type|Comments|Assigned",
     {"Subject": "subject", "Due Date": "due_at", "Type": "kind", "Comments": "body"}),
    ("case", "Case Number|Subject|Status|Priority|Case Origin|Type|Description",
     {"Case Number": "number", "Subject": "subject", "Status": "status",
      "Priority": "priority", "Type": "kind", "Description": "description"}),
    # HubSpot
    ("account", "Record ID|Company name|Phone Number|Street Address|City|Postal Code|"
                "Country/Region|Website URL",
     {"Company name": "legal_name", "Phone Number": "phone", "Street Address": "billing_street",
      "City": "billing_city", "Postal Code": "billing_postcode",
      "Country/Region": "billing_country"}),
    ("contact", "Record ID|First Name|Last Name|Email|Phone Number|Mobile Phone Number|"
                "Job Title|Associated Company ID|Lifecycle Stage|Contact owner",
     {"First Name": "first_name", "Last Name": "last_name", "Email": "email",
      "Phone Number": "phone", "Mobile Phone Number": "mobile", "Job Title": "job_title",
      "Associated Company ID": "account_external_id"}),
    ("opportunity", "Record ID|Deal Name|Deal Stage|Amount|Close Date|Deal owner|"
                    "Closed Lost Reason|Associated Company",
     {"Deal Name": "name", "Deal Stage": "stage", "Amount": "amount",
      "Close Date": "expected_close_date", "Closed Lost Reason": "lost_reason",
      "Associated Company": "account_by_name"}),
    ("case", "Ticket ID|Ticket name|Ticket status|Priority|Ticket description",
     {"Ticket name": "subject", "Ticket status": "status", "Priority": "priority",
      "Ticket description": "description"}),
    # Pipedrive
    ("account", "Organization - ID|Organization - Name|Organization - Owner",
     {"Organization - Name": "legal_name"}),
    ("contact", "Person - ID|Person - Name|Person - First name|Person - Last name|"
                "Person - Organization|Person - Email|Person - Phone|Person - Phone - Mobile",
     {"Person - First name": "first_name", "Person - Last name": "last_name",
      "Person - Email": "email", "Person - Phone": "phone",
      "Person - Phone - Mobile": "mobile", "Person - Organization": "account_by_name"}),
    ("opportunity", "Deal - ID|Deal - Title|Deal - Value|Deal - Currency|Deal - Organization|"
                    "Deal - Stage|Deal - Status|Deal - Expected close date|Deal - Lost reason|"
                    "Deal - Probability|Person - ID",
     {"Deal - Title": "name", "Deal - Value": "amount", "Deal - Currency": "currency",
      "Deal - Stage": "stage", "Deal - Expected close date": "expected_close_date",
      "Deal - Lost reason": "lost_reason", "Deal - Probability": "probability",
      "Person - ID": "contact_external_id", "Deal - Organization": "account_by_name"}),
    ("activity", "Activity - Subject|Activity - Type|Activity - Due date|Activity - Done|"
                 "Activity - Note|Deal - ID",
     {"Activity - Subject": "subject", "Activity - Type": "kind",
      "Activity - Due date": "due_at", "Activity - Done": "done", "Activity - Note": "body",
      "Deal - ID": "opportunity_external_id"}),
    # Odoo: labels of a plain export
    ("account", "Name|Email|Phone|Mobile|Street|Zip|City|Country|Salesperson",
     {"Name": "legal_name", "Email": "email", "Phone": "phone", "Mobile": "mobile",
      "Street": "billing_street", "Zip": "billing_postcode", "City": "billing_city",
      "Country": "billing_country"}),
    ("lead", "Opportunity|Company Name|Contact Name|Email|Phone|Street|Zip|City|Country|"
             "Salesperson|Source",
     {"Company Name": "company_name", "Contact Name": "last_name", "Email": "email",
      "Phone": "phone", "Street": "street", "Zip": "postcode", "City": "city",
      "Country": "country", "Source": "source"}),
    ("opportunity", "Opportunity|Customer|Salesperson|Expected Revenue|Stage|"
                    "Expected Closing|Lost Reason",
     {"Opportunity": "name", "Expected Revenue": "amount", "Stage": "stage",
      "Expected Closing": "expected_close_date", "Lost Reason": "lost_reason",
      "Customer": "account_by_name"}),
])
def test_header_spellings_map_each_systems_columns(object_type: str, columns: str,
                                                   expected: dict[str, str]) -> None:
    assert mapped(object_type, columns) == expected
