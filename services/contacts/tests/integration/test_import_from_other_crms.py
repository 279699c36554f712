"""Importing another CRM's export over HTTP on PostgreSQL: a European Excel (Windows-1252, ``;``)
HubSpot export imported twice without duplicates, a dry run that stores nothing, people matched
by e-mail, consent columns, a Salesforce Data Loader file, and a file no encoding reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_contacts.application import ContactsApplication
from crm_contacts.application.directory import DirectoryProjection
from crm_contacts.bootstrap import build_application
from crm_contacts.domain import Customer
from crm_platform.settings import PostgresSettings
from crm_platform.web.testing import assert_problem

from .conftest import command
from .test_import import WRITE, api_client, notifications, report

pytestmark = pytest.mark.integration

# HubSpot's contacts export, as Excel saves it in Germany; the two consent columns are this
# business's own, named by the request's ``columns``.
HUBSPOT_HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Mobile Phone Number",
    "Street Address",
    "City",
    "Country/Region",
    "Lifecycle Stage",
    "Contact owner",
    "Newsletter",
    "Newsletter since",
]
PEOPLE = [
    ("5101", "Jörg", "Weiß", "joerg.weiss@example.de", "030 1234567", "", "Hohe Straße 1", "Köln"),
    ("5102", "Renée", "Müller", "renee@example.de", "+33 1 42 68 53 00", "", "Grand-Rue 2", "Kehl"),
    ("5103", "Søren", "Ærø", "soren@example.de", "", "0151 23456789", "Förde 3", "Flensburg"),
    (
        "5104",
        "Zoë",
        "Façade",
        "zoe@example.de",
        "089 12345678",
        "",
        "Maximilianstraße 4",
        "München",
    ),
]
# This business's own columns, named by the request (channel and purpose: see with_topic).
CONSENT = {"Newsletter": "consent.status", "Newsletter since": "consent.date"}


@pytest.fixture
def application(
    postgres: PostgresSettings, fresh_database: Callable[[str], str]
) -> Iterator[ContactsApplication]:
    """A database of its own: the people counted are those of this test."""
    app = build_application(postgres.model_copy(update={"database": fresh_database("crm")}))
    yield app
    app.close()


@pytest.fixture
def client(application: ContactsApplication) -> Iterator[TestClient]:
    yield from api_client(application)


def hubspot_export(rows: list[tuple[str, ...]]) -> bytes:
    lines = [";".join(HUBSPOT_HEADER)]
    for row in rows:
        lines.append(";".join([*row, "DE", "lead", "Anna Owner", "granted", "2024-03-01"]))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def hubspot_query(mode: str = "create") -> str:
    columns = json.dumps(CONSENT)
    return urlencode({"mapping": "hubspot", "region": "DE", "mode": mode, "columns": columns})


def with_topic(body: bytes) -> bytes:
    """The export with the consent's channel and purpose as columns (every row: e-mail news)."""
    lines = body.split(b"\r\n")
    lines[0] += b";consent.channel;consent.purpose"
    return b"\r\n".join([lines[0], *(ln + b";email;marketing" for ln in lines[1:-1]), b""])


def post(client: TestClient, path: str, body: bytes, key: str, **headers: str) -> Any:
    headers = {"Content-Type": "text/csv", "Idempotency-Key": key, **WRITE, **headers}
    return client.post(path, content=body, headers=headers)


def registered_people(application: ContactsApplication) -> list[UUID]:
    notifications_ = application.recorder.select_notifications(start=1, limit=100_000)
    return [n.originator_id for n in notifications_ if n.topic.endswith("Customer.Registered")]


def test_a_european_hubspot_export_imported_twice_makes_no_duplicates(
    application: ContactsApplication, client: TestClient
) -> None:
    first = with_topic(hubspot_export(PEOPLE))
    job = report(client, post(client, f"/imports/people?{hubspot_query()}", first, str(uuid4())))
    assert job["status"] == "completed", job
    assert (job["created"], job["rejected"]) == (4, 0), job
    people = registered_people(application)
    assert len(people) == 4
    joerg = next(c for c in map(customer(application), people) if c.profile.family_name == "Weiß")
    assert joerg.profile.given_name == "Jörg"
    assert [p.number for p in joerg.profile.phones] == ["+49301234567"]
    assert [e.address for e in joerg.profile.emails] == ["joerg.weiss@example.de"]
    [decision] = joerg.consents
    assert (decision.channel, decision.status, decision.source) == ("email", "granted", "import")

    # The same people exported again a month later: Jörg moved, Zoë has a new number.
    jorg = (*PEOPLE[0][:6], "Domkloster 4", "Köln")
    zoe = (*PEOPLE[3][:4], "089 87654321", *PEOPLE[3][5:])
    second = with_topic(hubspot_export([jorg, *PEOPLE[1:3], zoe]))
    query = hubspot_query("update")
    job = report(client, post(client, f"/imports/people?{query}", second, str(uuid4())))

    assert job["status"] == "completed", job
    assert (job["mode"], job["created"], job["updated"], job["unchanged"]) == ("update", 0, 2, 2)
    assert sorted(registered_people(application)) == sorted(people)  # no duplicates
    joerg = customer(application)(joerg.id)
    assert [a.lines for a in joerg.profile.addresses] == [("Domkloster 4",)]
    assert len(joerg.consents) == 1  # the same decision, recorded once
    zoe = next(c for c in map(customer(application), people) if c.profile.given_name == "Zoë")
    assert [p.number for p in zoe.profile.phones] == ["+498987654321"]


def test_a_dry_run_reports_each_row_and_stores_nothing(
    application: ContactsApplication, client: TestClient
) -> None:
    key = str(uuid4())
    body = with_topic(hubspot_export(PEOPLE[:2]))
    report(client, post(client, f"/imports/people?{hubspot_query()}", body, key))
    rows = [
        PEOPLE[0],  # as imported
        (*PEOPLE[1][:6], "Hauptstraße 9", "Kehl"),  # moved
        PEOPLE[2],  # new
        ("5199", "Eve", "Mallory", "ceo,x@evil.test", "", "", "Unter den Linden 1", "Berlin"),
        ("5198", "Nat", "Ional", "nat@example.de", "030 12", "", "Unter den Linden 2", "Berlin"),
    ]
    recorded = notifications(application)

    response = post(
        client,
        f"/imports/people/dry-run?{hubspot_query('update')}",
        with_topic(hubspot_export(rows)),
        str(uuid4()),
    )

    assert response.status_code == 200, response.text
    preview = response.json()
    assert [(r["row"], r["action"]) for r in preview["rows"]] == [
        (2, "unchanged"),
        (3, "updated"),
        (4, "created"),
        (5, "rejected"),
        (6, "rejected"),
    ]
    assert (preview["created"], preview["updated"], preview["unchanged"]) == (1, 1, 1)
    email, phone = (preview["rows"][i]["rejections"][0] for i in (3, 4))
    assert email["column"] == "email.work"
    assert "invalid characters" in email["reason"]
    assert (phone["column"], phone["reason"]) == (
        "phone.work",
        "not a valid phone number in region DE",
    )
    assert notifications(application) == recorded


def test_a_row_without_external_id_updates_the_person_with_its_e_mail(
    application: ContactsApplication, client: TestClient
) -> None:
    profile = {"family_name": "Hopper", "emails": [{"address": "grace@example.org"}]}
    known = application.register_customer(command(), uuid4(), profile=profile)
    caught_up(application)  # e-mail addresses are looked up in the directory
    body = b"family_name,email,phone.mobile\r\nHopper,GRACE@example.org,(415) 555-0101\r\n"

    job = report(client, post(client, "/imports/people?mode=update&region=US", body, str(uuid4())))

    assert (job["created"], job["updated"]) == (0, 1), job
    grace = customer(application)(known.value.id)
    assert [p.number for p in grace.profile.phones] == ["+14155550101"]
    assert registered_people(application) == [grace.id]


def test_a_salesforce_data_loader_export_is_read_as_it_is(
    application: ContactsApplication, client: TestClient
) -> None:
    body = (
        b"Id,FirstName,LastName,Email,Phone,MailingStreet,MailingCity,MailingCountry,Birthdate,"
        b"AccountId\r\n0035g00000AbCdEAAV,Ada,Lovelace,ada@example.com,(202) 555-0100,"
        b'"12 St James\'s Square\nFlat 3",London,GB,1815-12-10,0015g00000XyZ\r\n'
    )

    job = report(
        client, post(client, "/imports/people?mapping=salesforce&region=US", body, str(uuid4()))
    )

    assert (job["created"], job["rejected"]) == (1, 0), job
    [ada] = map(customer(application), registered_people(application))
    assert [p.number for p in ada.profile.phones] == ["+12025550100"]
    assert [a.lines for a in ada.profile.addresses] == [("12 St James's Square", "Flat 3")]
    assert [d.date.year for d in ada.profile.important_dates] == [1815]


def test_a_file_no_encoding_reads_is_refused_naming_it(
    application: ContactsApplication, client: TestClient
) -> None:
    recorded = notifications(application)
    disposition = 'attachment; filename="contacts-export.csv"'
    body = b"family_name\r\n" + bytes(range(256)) * 50

    response = post(
        client, "/imports/people", body, str(uuid4()), **{"Content-Disposition": disposition}
    )

    [error] = assert_problem(response, 422)["errors"]
    assert error["field"] == "body"
    assert "contacts-export.csv" in error["detail"]
    assert notifications(application) == recorded


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/imports/people?region=XX", 422, "query.region"),
        ("/imports/people?columns=[1]", 422, "query.columns"),
        ("/imports/people?columns=" + "[" * 5000, 422, "query.columns"),  # nested too deep
        ("/imports/people?mapping=zoho", 422, "query.mapping"),
        ("/imports/people?mode=merge", 422, "query.mode"),
        ("/imports/people?dryrun=1", 400, "query.dryrun"),
        ("/imports/organizations?mode=update", 422, "query.mode"),
    ],
)
def test_bad_import_parameters_are_refused(
    application: ContactsApplication, client: TestClient, path: str, status: int, field: str
) -> None:
    response = post(client, path, b"family_name\r\nHopper\r\n", str(uuid4()))

    assert assert_problem(response, status)["errors"][0]["field"] == field
    assert registered_people(application) == []


def caught_up(application: ContactsApplication) -> None:
    projection = DirectoryProjection(application)
    projection.create_tables()
    projection.catch_up()


def customer(application: ContactsApplication) -> Callable[[UUID], Customer]:
    return lambda customer_id: application.repository.get(customer_id)  # type: ignore[no-any-return]


def test_a_row_with_bytes_not_of_the_declared_charset_is_rejected_alone(
    application: ContactsApplication, client: TestClient
) -> None:
    body = b"family_name;given_name\r\nM\xfcller;Anna\r\nMeier;Otto\r\n"

    response = post(
        client, "/imports/people", body, str(uuid4()), **{"Content-Type": "text/csv; charset=utf-8"}
    )

    job = report(client, response)
    assert (job["status"], job["created"], job["rejected"]) == ("completed", 1, 1), job
    assert job["rejections"][0]["row"] == 2
    assert "encoding" in job["rejections"][0]["reason"]


def test_a_file_exported_here_updates_its_people_by_their_ids(
    application: ContactsApplication, client: TestClient
) -> None:
    body = b"family_name,given_name,email\r\nHopper,Grace,grace@example.org\r\n"
    report(client, post(client, "/imports/people", body, str(uuid4())))
    caught_up(application)
    exported = client.get("/exports/people.csv", headers=WRITE).content
    edited = exported.replace(b"Grace", b"Amazing Grace")

    job = report(client, post(client, "/imports/people?mode=update", edited, str(uuid4())))

    assert (job["created"], job["updated"]) == (0, 1), job
    [grace] = map(customer(application), registered_people(application))
    assert grace.profile.given_name == "Amazing Grace"


def test_a_hubspot_companies_export_imports_organizations(
    application: ContactsApplication, client: TestClient
) -> None:
    body = (
        "Record ID;Company name;Website URL;Industry;Street Address;City;Country/Region;Type\r\n"
        "9001;Müller & Söhne GmbH;https://mueller.example;MACHINERY;Domkloster 4;Köln;DE;customer\r\n"
    ).encode("cp1252")
    query = urlencode({"mapping": "hubspot", "columns": '{"Type": "kinds"}'})

    job = report(client, post(client, f"/imports/organizations?{query}", body, str(uuid4())))

    assert (job["created"], job["rejected"]) == (1, 0), job["rejections"]
    caught_up(application)
    listed = client.get("/organizations", headers=WRITE).json()
    assert [o["name"] for o in listed["items"]] == ["Müller & Söhne GmbH"]
