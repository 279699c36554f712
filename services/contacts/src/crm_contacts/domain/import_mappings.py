"""Column mappings: the columns of another system's CSV export named as ours.

A mapping takes a column of the file (compared ignoring case and surrounding spaces) to one of
our columns (``domain.csv_rows``), or to ``None`` to leave it out. An import given a mapping
leaves out every column it neither maps nor knows, so that an export with dozens of columns of
no use here imports as it is.

The ready mappings are those of the contacts (people) and companies (organizations) exports of
HubSpot (*Contacts > Export*, column labels as HubSpot writes them) and of Salesforce Data Loader
(API field names of ``Contact`` and ``Account``). Their values follow the columns' rules here:
countries as ISO 3166 alpha-2 codes (HubSpot's country names are not translated), phone numbers
with their country code or the import's default region, an address with its street. Their
owners, companies and other ids name records of the other system, so they are left out, and so
are job titles and departments, which here belong to a role at an organization: a request maps
``Company Name`` (or ``AccountId``'s name) to ``organization`` and the title to ``job_title``
in its ``columns`` once the organizations are imported.
"""

from __future__ import annotations

from collections.abc import Mapping

ColumnMapping = Mapping[str, str | None]

_HUBSPOT_ADDRESS: dict[str, str | None] = {
    "Record ID": "external_id",
    "Street Address": "street",
    "City": "city",
    "State/Region": "region",
    "Postal Code": "postal_code",
    "Country/Region": "country",
}
HUBSPOT_CONTACTS: ColumnMapping = {
    **_HUBSPOT_ADDRESS,
    "First Name": "given_name",
    "Last Name": "family_name",
    "Email": "email.work",
    "Phone Number": "phone.work",
    "Mobile Phone Number": "phone.mobile",
    "Fax Number": "phone.fax",
}
HUBSPOT_COMPANIES: ColumnMapping = {
    **_HUBSPOT_ADDRESS,
    "Company name": "name",
    "Website URL": "website",
    "Industry": "industry",
}
SALESFORCE_CONTACTS: ColumnMapping = {
    "Id": "external_id",
    "FirstName": "given_name",
    "LastName": "family_name",
    "Email": "email.work",
    "Phone": "phone.work",
    "MobilePhone": "phone.mobile",
    "HomePhone": "phone.home",
    "OtherPhone": "phone.other",
    "Fax": "phone.fax",
    "MailingStreet": "street",
    "MailingCity": "city",
    "MailingState": "region",
    "MailingPostalCode": "postal_code",
    "MailingCountry": "country",
    "Birthdate": "birthday",
}
SALESFORCE_ACCOUNTS: ColumnMapping = {
    "Id": "external_id",
    "Name": "name",
    "Website": "website",
    "Industry": "industry",
    "BillingStreet": "street",
    "BillingCity": "city",
    "BillingState": "region",
    "BillingPostalCode": "postal_code",
    "BillingCountry": "country",
}

# By the name a request chooses them with.
PEOPLE_MAPPINGS: Mapping[str, ColumnMapping] = {
    "hubspot": HUBSPOT_CONTACTS,
    "salesforce": SALESFORCE_CONTACTS,
}
ORGANIZATION_MAPPINGS: Mapping[str, ColumnMapping] = {
    "hubspot": HUBSPOT_COMPANIES,
    "salesforce": SALESFORCE_ACCOUNTS,
}


def combined(ready: ColumnMapping | None, given: ColumnMapping | None) -> ColumnMapping | None:
    """A ready mapping with the request's own entries over it (keys compared ignoring case);
    ``None`` when there is neither, and the file's columns must all be ours."""
    if ready is None and given is None:
        return None
    return {_key(k): v for part in (ready or {}, given or {}) for k, v in part.items()}


def mapped(mapping: ColumnMapping, name: str) -> tuple[bool, str | None]:
    """Whether ``mapping`` names the column ``name``, and what it maps it to."""
    key = _key(name)
    return key in mapping, mapping.get(key)


def _key(name: str) -> str:
    return name.strip().lower()
