"""CSV exports over HTTP on PostgreSQL: streamed from the directory, filtered, importable again."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_contacts.api.directory import directory_router
from crm_contacts.api.imports import imports_router
from crm_contacts.application import ContactsApplication
from crm_contacts.application.directory import (
    Directory,
    DirectoryProjection,
    DirectoryQuery,
    RecordType,
)
from crm_contacts.domain import RecordKind
from crm_platform.web.app import create_api
from crm_platform.web.testing import assert_problem, bearer

from .conftest import command

pytestmark = pytest.mark.integration

HEADERS = bearer("contacts:read", "contacts:write")


@pytest.fixture(scope="module")
def projection(application: ContactsApplication) -> DirectoryProjection:
    application.define_custom_field(
        RecordKind.PERSON,
        "tier",
        {"type": "enum", "label": "Tier", "options": ["gold"]},
        command(),
    )
    projection = DirectoryProjection(application)
    projection.create_tables()
    return projection


@pytest.fixture(scope="module")
def client(application: ContactsApplication) -> Iterator[TestClient]:
    routers = [directory_router(application), imports_router(application)]
    with TestClient(create_api(title="contacts", service="contacts", routers=routers)) as test:
        yield test


def register(application: ContactsApplication, **profile: Any) -> UUID:
    customer_id = uuid4()
    application.register_customer(command(), customer_id, profile=profile)
    return customer_id


def exported(client: TestClient, path: str, **params: Any) -> list[dict[str, str]]:
    with client.stream("GET", path, params=params, headers=HEADERS) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["content-disposition"]
        text = "".join(response.iter_text())
    return list(csv.DictReader(io.StringIO(text)))


def test_people_are_exported_in_the_import_format_with_the_list_filters(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    family = f"Export{uuid4().hex[:6]}"
    ada = register(
        application,
        given_name="Ada",
        family_name=family,
        emails=[{"address": "ada@export.example", "type": "work"}],
        phones=[{"number": "+442079460958", "type": "mobile"}],
        addresses=[{"lines": ["12 St James's Square"], "locality": "London", "country": "GB"}],
        important_dates=[{"kind": "birthday", "date": {"month": 12, "day": 10}}],
        tags=["vip", "donor"],
        custom_fields={"tier": "gold"},
    )
    register(application, given_name="=HYPERLINK(1)", family_name=family, tags=["vip"])
    register(application, given_name="Untagged", family_name=family)
    projection.catch_up()

    rows = exported(client, "/exports/people.csv", q=family, tag="vip")

    assert [row["given_name"] for row in rows] == ["Ada", "'=HYPERLINK(1)"]  # inert formula
    assert rows[0] == {
        "external_id": str(ada),
        "given_name": "Ada",
        "family_name": family,
        "email.work": "ada@export.example",
        "email.home": "",
        "email.other": "",
        "phone.work": "",
        "phone.home": "",
        "phone.mobile": "+442079460958",
        "phone.fax": "",
        "phone.other": "",
        "street": "12 St James's Square",
        "city": "London",
        "region": "",
        "postal_code": "",
        "country": "GB",
        "address_type": "other",
        "organization_id": "",
        "job_title": "",
        "department": "",
        "birthday": "'--12-10",  # a spreadsheet would compute --12-10 (to 2)
        "language": "",
        "preferred_channel": "",
        "tags": "donor; vip",
        "custom.tier": "gold",
    }


def test_an_exported_file_imports_as_the_same_people(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    family = f"Roundtrip{uuid4().hex[:6]}"
    originals = [
        register(
            application,
            given_name=given,
            family_name=family,
            emails=[{"address": f"{given.lower()}@{family.lower()}.example", "type": "home"}],
            tags=["exported"],
        )
        for given in ("Ann", "Bob", "Cat")
    ]
    projection.catch_up()
    with client.stream("GET", "/exports/people.csv", params={"q": family}, headers=HEADERS) as r:
        body = r.read()

    response = client.post(
        "/imports/people",
        content=body,
        headers={"Content-Type": "text/csv", "Idempotency-Key": str(uuid4()), **HEADERS},
    )
    job = client.get(response.headers["Location"], headers=HEADERS).json()
    assert (job["created"], job["rejected"]) == (3, 0)
    projection.catch_up()

    listed = Directory.of(application).search(
        DirectoryQuery(RecordType.PERSON, text=family), limit=10
    )
    copies = [e.id for e in listed if e.id not in originals]
    profiles = sorted(repr(application.repository.get(i).profile) for i in originals)
    assert sorted(repr(application.repository.get(i).profile) for i in copies) == profiles


def test_organizations_are_exported_by_kind(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    name = f"Supplier {uuid4().hex[:6]}"
    application.register_organization(
        command(),
        uuid4(),
        profile={"name": name, "kinds": ["supplier"], "website": "supplies.example"},
    )
    projection.catch_up()

    rows = exported(client, "/exports/organizations.csv", q=name, kind="supplier")

    assert [(r["name"], r["kinds"], r["website"]) for r in rows] == [
        (name, "supplier", "https://supplies.example")
    ]
    assert exported(client, "/exports/organizations.csv", q=name, kind="partner") == []


def test_an_export_reads_the_directory_page_by_page(
    application: ContactsApplication, projection: DirectoryProjection
) -> None:
    family = f"Pages{uuid4().hex[:6]}"
    for n in range(7):
        register(application, given_name=f"P{n}", family_name=family)
    projection.catch_up()
    directory = Directory.of(application)
    query = DirectoryQuery(RecordType.PERSON, text=family)

    scanned = list(directory.scan(query, page_size=2))

    assert scanned == directory.search(query, limit=200)
    assert len(scanned) == 7


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"cursor": "x"}, 400, "query.cursor"),  # an export has no pages
        ({"kind": "partner"}, 400, "query.kind"),  # a filter of organizations
        ({"tag": " "}, 422, "query.tag"),
    ],
)
def test_bad_export_filters_are_problems(
    client: TestClient, params: dict[str, str], status: int, field: str
) -> None:
    response = client.get("/exports/people.csv", params=params, headers=HEADERS)

    assert field in [e["field"] for e in assert_problem(response, status)["errors"]]


def test_number_custom_fields_are_numbers_in_lists_and_exports(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    application.define_custom_field(
        RecordKind.PERSON, "spend", {"type": "number", "label": "Spend"}, command()
    )
    family = f"Spend{uuid4().hex[:6]}"
    register(application, given_name="Ada", family_name=family, custom_fields={"spend": -1250.5})
    register(application, given_name="Bea", family_name=family, custom_fields={"spend": "3"})
    projection.catch_up()

    listed = client.get("/customers", params={"q": family, "sort": "name"}, headers=HEADERS)
    rows = exported(client, "/exports/people.csv", q=family)

    assert listed.status_code == 200, listed.text
    spends = [p["custom_fields"]["spend"] for p in listed.json()["items"]]
    assert spends == [-1250.5, 3] and type(spends[1]) is int
    # In the file, as a spreadsheet reads a number: no apostrophe, no exponent.
    assert sorted(row["custom.spend"] for row in rows) == ["-1250.5", "3"]
