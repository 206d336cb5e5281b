"""How people and other systems name the CRM's fields in the header of a file.

One table for every place that recognises a file's columns: the pre-import audit maps them
(``quality.audit``), and a sync mapping is proposed from them (``integration.engine.mapping``).
French and English spellings, and the names of the systems files come from (Salesforce's
``BillingPostalCode``, Odoo's ``company_registry``, vCard's ``N.given``…), including the
columns of the exports of Salesforce (API names and report labels), HubSpot, Pipedrive
(``Deal - Title``) and Odoo (labels and import-compatible names) for each object. Callers compare
headers folded (case, accents, spaces and punctuation ignored) and keep only the fields they
write; a target's own spellings come before the common ones, so ``Nom`` is an account's legal
name and a contact's last name.

Left out on purpose: counts of employees for the headcount *band* (a count is not a band),
``title`` for the civility (Odoo's is one, Salesforce's is a job title), opt-out columns for
the marketing consent (their meaning is the reverse), the owner columns of other CRMs (they
hold a person's name, not a Comptoir user name or e-mail), a pipeline's name (another CRM's
pipelines are not Comptoir's).
"""

from __future__ import annotations

_COMPANY = ("Raison sociale", "Dénomination", "Denomination sociale", "Société", "Entreprise",
            "Company", "Company Name", "Organisation", "Organization", "Nom de la société",
            "Nom entreprise", "Nom de l'entreprise")
_EMAIL = ("E-mail", "Email", "Courriel", "Mail", "Adresse e-mail", "Adresse email",
          "Adresse mail", "Email Address", "E-mail address")
_PHONE = ("Téléphone", "Tél", "Tel", "Phone", "Phone number", "Numéro de téléphone",
          "N° téléphone", "Téléphone fixe", "Standard", "Ligne directe")
_MOBILE = ("Portable", "Mobile", "Téléphone portable", "Tél portable", "Téléphone mobile",
           "Cellulaire", "MobilePhone", "Mobile Phone", "Cell Phone", "Cell", "GSM",
           "TEL.cell", "Mobile Phone Number", "Person - Phone - Mobile")
_STREET = ("Adresse", "Rue", "Address", "Street", "Adresse 1", "Address 1", "Address line 1",
           "Voie", "Adresse postale", "Street address", "street")
_POSTCODE = ("Code postal", "CP", "Zip", "Zip Code", "Postal Code", "Postcode", "Post code",
             "zip", "Zip/Postal Code", "PostalCode")
_CITY = ("Ville", "Commune", "City", "Town", "Localité", "city")
_COUNTRY = ("Pays", "Country", "Code pays", "Country Code", "country_id", "Country/Region",
            "CountryCode")
_STATUS = ("Statut", "Status")
# Another CRM's company, named in a file of people, deals, activities or cases
_ORGANIZATION = ("Organization - Name", "Associated Company", "Company / Account")
_DESCRIPTION = ("Description", "Commentaire", "Commentaires", "Notes", "Remarques", "Comment",
                "Comments", "Internal Notes")

COMMON: dict[str, tuple[str, ...]] = {
    "siren": ("SIREN", "N° SIREN", "Numéro SIREN", "SIREN number"),
    "siret": ("SIRET", "N° SIRET", "Numéro SIRET", "SIRET number", "SIRET siège",
              "company_registry"),
    "vat_number": ("N° TVA", "TVA intracommunautaire", "N° TVA intracom", "TVA intracom",
                   "Numéro de TVA", "Numéro TVA intracommunautaire",
                   "N° TVA intracommunautaire", "TVA intra", "VAT", "VAT Number", "VAT No",
                   "VAT ID", "Intra-community VAT", "Tax ID", "vat"),
    "naf_code": ("Code NAF", "NAF", "APE", "Code APE", "NAF/APE", "Code NAF/APE", "NAF code",
                 "APE code", "Activité principale"),
    "billing_street": (*_STREET, "Adresse de facturation", "Billing address", "BillingStreet",
                       "Billing Street"),
    "billing_postcode": (*_POSTCODE, "BillingPostalCode", "Billing Zip/Postal Code",
                         "Billing Postal Code", "Organization - Address - ZIP/Postal code"),
    "billing_city": (*_CITY, "BillingCity", "Billing City",
                     "Organization - Address - City/town/village/locality"),
    "billing_country": (*_COUNTRY, "BillingCountry", "Billing Country", "BillingCountryCode",
                        "Organization - Address - Country"),
    "shipping_street": ("Adresse de livraison", "ShippingStreet", "Shipping Street",
                        "Shipping address", "Delivery Address"),
    "shipping_postcode": ("Code postal livraison", "Code postal de livraison", "CP livraison",
                          "ShippingPostalCode", "Shipping Zip/Postal Code",
                          "Shipping Postal Code", "Shipping zip"),
    "shipping_city": ("Ville de livraison", "Ville livraison", "ShippingCity",
                      "Shipping City", "Shipping town"),
    "shipping_country": ("Pays de livraison", "Pays livraison", "ShippingCountry",
                         "Shipping Country"),
    "website": ("Site web", "Site internet", "Site", "Website", "Web", "URL", "Web Site",
                "Organization - Website"),
    "headcount_band": ("Tranche d'effectif", "Tranche effectif", "Tranche d'effectifs",
                       "trancheEffectifsUniteLegale", "Headcount band"),
    "payment_terms": ("Conditions de paiement", "Conditions de règlement", "Délai de paiement",
                      "Payment Terms", "property_payment_term_id"),
    "credit_limit": ("Encours autorisé", "Encours", "Plafond", "Limite de crédit",
                     "Credit Limit", "credit_limit"),
    "civility": ("Civilité", "Titre de civilité", "Salutation", "Civility", "N.prefix"),
    "first_name": ("Prénom", "FirstName", "First Name", "Given Name", "Forename", "N.given",
                   "firstname", "Person - First name"),
    "job_title": ("Fonction", "function", "Poste", "Job Title", "Position", "Titre", "Title",
                  "Role", "Job Position"),
    "email_secondary": ("E-mail 2", "Email 2", "Autre e-mail", "Other Email",
                        "Secondary Email", "Email secondaire", "EMAIL2"),
    "mobile": _MOBILE,
    "marketing_consent": ("Consentement", "Opt-in", "Optin", "Consentement marketing",
                          "Marketing Consent", "Newsletter"),
    "consent_date": ("Date de consentement", "Date consentement", "Consent Date"),
    "consent_source": ("Source du consentement", "Origine du consentement", "Consent Source"),
}

BY_TARGET: dict[str, dict[str, tuple[str, ...]]] = {
    "account": {
        "legal_name": (*_COMPANY, "Account Name", "Account", "Name", "Nom", "Nom du client",
                       "Nom client", "Nom du compte", "Compte", "Client", "Customer",
                       "Customer Name", "ORG", "Organization - Name", "Organization name"),
        "trade_name": ("Nom commercial", "Enseigne", "Trade name", "Brand", "DBA", "Sigle"),
        "status": _STATUS,
        "phone": _PHONE,
        "email": _EMAIL,
        "parent_external_id": ("ParentId", "Parent", "Maison mère", "Société mère",
                               "Parent Account", "Parent Account ID", "parent_id/id"),
        # not a field: a flat export's contact person (the audit counts it as a contact)
        "contacts": ("Contact", "Nom du contact", "Interlocuteur", "Contact name",
                     "Contact person", "Contact principal", "Main contact"),
    },
    "contact": {
        "account_external_id": ("AccountId", "Account ID", "Code client", "Compte",
                                "parent_id/id", "Société ID", "Company ID",
                                "Associated Company ID", "Organization - ID"),
        "last_name": ("Nom", "Nom de famille", "LastName", "Last Name", "Surname",
                      "Family Name", "N.family", "lastname", "Person - Last name",
                      "Person - Name"),
        "phone": (*_PHONE, "Business Phone", "Work Phone", "TEL.work", "TEL", "Person - Phone",
                  "Person - Phone - Work"),
        "email": (*_EMAIL, "EMAIL", "Person - Email", "Person - Email - Work"),
        # only the columns that say it: a flat file's address is its company's
        "mailing_street": ("Adresse postale du contact", "MailingStreet", "Mailing Street"),
        "mailing_postcode": ("MailingPostalCode", "Mailing Zip/Postal Code"),
        "mailing_city": ("MailingCity", "Mailing City"),
        "mailing_country": ("MailingCountry", "Mailing Country", "MailingCountryCode"),
        # not a field: the company's name written out in the file
        "account": (*_COMPANY, "Account", "Account Name", "Compte", "Client", *_ORGANIZATION,
                    "Person - Organization", "Related Company"),
    },
    "lead": {
        "company_name": (*_COMPANY, "Account Name", "Account", "Compte", "Company / Account",
                         "Organization - Name", "partner_name"),
        "last_name": ("Nom", "Nom de famille", "Last Name", "LastName", "Surname",
                      "Family Name", "Person - Last name", "Contact Name", "contact_name",
                      "Person - Name"),
        "email": (*_EMAIL, "email_from", "Person - Email", "Person - Email - Work"),
        "phone": (*_PHONE, "Person - Phone", "Person - Phone - Work", *_MOBILE),
        "street": _STREET,
        "postcode": _POSTCODE,
        "city": _CITY,
        "country": _COUNTRY,
        "source": ("Origine", "Source", "Lead Source", "Provenance", "LeadSource", "source_id"),
        "status": (*_STATUS, "Lead Status"),
        "description": _DESCRIPTION,
    },
    # Deals: Salesforce's Opportunity, HubSpot's and Pipedrive's deals, Odoo's crm.lead. The
    # stage is given by name (the other CRM's stage names need a value mapping).
    "opportunity": {
        "name": ("Nom de l'affaire", "Affaire", "Opportunité", "Nom de l'opportunité",
                 "Intitulé", "Opportunity Name", "Deal Name", "Deal - Title", "Deal Title",
                 "Opportunity", "Deal", "Name", "Nom", "Titre", "Title"),
        "stage": ("Étape", "Étape de vente", "Phase", "Stage", "StageName", "Deal Stage",
                  "Deal - Stage", "Sales Stage", "stage_id"),
        "amount": ("Montant", "Montant HT", "Montant estimé", "Valeur", "Chiffre d'affaires",
                   "Chiffre d'affaires prévu", "Revenu espéré", "Amount", "Deal Amount",
                   "Deal - Value", "Value", "Expected Revenue", "expected_revenue"),
        "currency": ("Devise", "Monnaie", "Currency", "CurrencyIsoCode", "Opportunity Currency",
                     "Deal - Currency", "Currency Code"),
        "expected_close_date": ("Date de clôture", "Date de clôture prévue", "Clôture prévue",
                                "Date de signature prévue", "Close Date", "CloseDate",
                                "Expected close date", "Deal - Expected close date",
                                "Expected Closing", "date_deadline"),
        "probability": ("Probabilité", "Probabilité (%)", "Probability", "Probability (%)",
                        "Deal - Probability", "Deal Probability"),
        "lost_reason": ("Motif de perte", "Raison de la perte", "Cause de perte",
                        "Lost Reason", "Loss Reason", "Closed Lost Reason",
                        "Deal - Lost reason", "lost_reason_id"),
        "description": (*_DESCRIPTION, "Deal Description"),
        "account_external_id": ("AccountId", "Account ID", "Code client",
                                "Associated Company ID", "Organization - ID",
                                "Deal - Organization ID", "partner_id/id"),
        "contact_external_id": ("ContactId", "Contact ID", "Associated Contact ID",
                                "Person - ID", "Deal - Contact person ID"),
        # not fields: the account's and the contact's names written out in the file
        "account": (*_COMPANY, "Account Name", "Account", "Compte", "Client", "Customer",
                    *_ORGANIZATION, "Deal - Organization"),
        "contact": ("Contact", "Contact Name", "Interlocuteur", "Associated Contact",
                    "Person - Name", "Deal - Contact person"),
    },
    # Tasks, calls, meetings: Salesforce's Task and Event, Pipedrive's and HubSpot's activities,
    # Odoo's mail.activity.
    "activity": {
        "subject": ("Objet", "Sujet", "Intitulé", "Titre", "Résumé", "Subject",
                    "Activity - Subject", "Task Title", "Summary", "Title"),
        "kind": ("Type d'activité", "Type", "Nature", "Activity Type", "Activity - Type",
                 "Task Type", "TaskSubtype", "EventSubtype", "activity_type_id"),
        "due_at": ("Échéance", "Date d'échéance", "Date", "Due Date", "Due date",
                   "ActivityDate", "Activity - Due date", "Deadline", "date_deadline"),
        "start_at": ("Début", "Date de début", "Start", "Start Date", "StartDateTime",
                     "Start Date Time", "Start Time"),
        "end_at": ("Fin", "Date de fin", "End", "End Date", "EndDateTime", "End Date Time",
                   "End Time"),
        "done": ("Fait", "Terminé", "Réalisé", "Done", "Activity - Done", "Completed",
                 "IsClosed"),
        "body": ("Compte rendu", *_DESCRIPTION, "Note", "Activity - Note", "Body",
                 "Task notes"),
        "account_external_id": ("AccountId", "Account ID", "Associated Company ID",
                                "Organization - ID"),
        "contact_external_id": ("ContactId", "Contact ID", "Associated Contact ID",
                                "Person - ID"),
        "opportunity_external_id": ("OpportunityId", "Opportunity ID", "Deal ID",
                                    "Associated Deal ID", "Deal - ID"),
        "case_external_id": ("CaseId", "Case ID", "Ticket ID", "Associated Ticket ID"),
        # not fields: the account's and the contact's names written out in the file
        "account": (*_COMPANY, "Account Name", "Account", "Compte", "Client", *_ORGANIZATION,
                    "Activity - Organization"),
        "contact": ("Contact", "Contact Name", "Interlocuteur", "Associated Contact",
                    "Person - Name", "Activity - Contact person"),
    },
    # Support cases: Salesforce's Case, HubSpot's tickets, Odoo's helpdesk tickets.
    "case": {
        "number": ("Numéro", "N°", "Numéro de ticket", "N° de ticket", "Numéro de dossier",
                   "Case Number", "CaseNumber", "Ticket number", "Reference", "ticket_ref"),
        "subject": ("Objet", "Sujet", "Intitulé", "Titre", "Subject", "Ticket name",
                    "Ticket Subject", "Title", "name"),
        "description": (*_DESCRIPTION, "Ticket description", "content"),
        "status": (*_STATUS, "Ticket status", "Pipeline stage", "Stage", "stage_id"),
        "priority": ("Priorité", "Urgence", "Priority", "Ticket priority"),
        "kind": ("Type", "Type de demande", "Nature", "Catégorie", "Case Type", "Ticket type",
                 "Category", "ticket_type_id"),
        "account_external_id": ("AccountId", "Account ID", "Associated Company ID",
                                "partner_id/id"),
        "contact_external_id": ("ContactId", "Contact ID", "Associated Contact ID"),
        # not fields: the account's and the contact's names written out in the file
        "account": (*_COMPANY, "Account Name", "Account", "Compte", "Client", "Customer",
                    *_ORGANIZATION),
        "contact": ("Contact", "Contact Name", "Interlocuteur", "Associated Contact"),
    },
    "product": {
        "code": ("Code", "Référence", "Ref", "Réf", "Code article", "SKU", "Product Code",
                 "default_code", "ProductCode", "Item Code"),
        "name": ("Désignation", "Libellé", "Nom", "Name", "Product Name", "Article",
                 "Description"),
        "unit": ("Unité", "Unit", "UoM", "uom_id", "Unit of Measure", "QuantityUnitOfMeasure"),
        "active": ("Actif", "Active", "IsActive", "Statut"),
        "tax_rate": ("Taux de TVA", "TVA", "Tax Rate", "VAT Rate", "Taux TVA", "taxes_id"),
    },
}


def synonyms(target: str) -> dict[str, tuple[str, ...]]:
    """Field → the headers that name it for ``target``: its own spellings first, then the
    common ones (a field of another target's own table is not included)."""
    own = BY_TARGET.get(target, {})
    names = list(own) + [n for n in COMMON if n not in own]
    return {name: (*own.get(name, ()), *COMMON.get(name, ())) for name in names}
