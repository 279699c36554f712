"""CSV imports over HTTP on PostgreSQL: streaming, reports, idempotent re-runs, bad files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_contacts.api.directory import directory_router
from crm_contacts.api.imports import imports_router
from crm_contacts.application import ContactsApplication
from crm_contacts.application.directory import Directory, DirectoryProjection
from crm_contacts.application.imports import JOBS
from crm_contacts.bootstrap import build_application
from crm_contacts.domain import Customer, Organization, RecordKind
from crm_platform.settings import PostgresSettings
from crm_platform.web.app import create_api
from crm_platform.web.testing import assert_problem, bearer

from .conftest import command

pytestmark = pytest.mark.integration

WRITE = bearer("contacts:write", "contacts:read")
PEOPLE_HEADER = "external_id,given_name,family_name,email.work,phone.mobile,city,street,country,tags,custom.tier"
GIVEN = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken"]
FAMILY = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus"]


@pytest.fixture(scope="module", autouse=True)
def tier(application: ContactsApplication) -> None:
    define_tier(application)


def define_tier(application: ContactsApplication) -> None:
    application.define_custom_field(
        RecordKind.PERSON,
        "tier",
        {"type": "enum", "label": "Tier", "options": ["gold", "silver"]},
        command(),
    )


@pytest.fixture(scope="module")
def projection(application: ContactsApplication) -> DirectoryProjection:
    projection = DirectoryProjection(application)
    projection.create_tables()
    return projection


@pytest.fixture(scope="module")
def client(application: ContactsApplication) -> Iterator[TestClient]:
    yield from api_client(application)


@pytest.fixture
def large_import_client(
    postgres: PostgresSettings, fresh_database: Callable[[str], str]
) -> Iterator[TestClient]:
    """On a database of its own: the other tests' directory need not project ten thousand rows."""
    application = build_application(postgres.model_copy(update={"database": fresh_database("big")}))
    define_tier(application)
    try:
        yield from api_client(application)
    finally:
        application.close()


def api_client(application: ContactsApplication) -> Iterator[TestClient]:
    routers = [directory_router(application), imports_router(application)]
    with TestClient(create_api(title="contacts", service="contacts", routers=routers)) as test:
        yield test


def person_row(n: int, **overrides: str) -> str:
    cells = {
        "external_id": f"crm-{n}",
        "given_name": GIVEN[n % len(GIVEN)],
        "family_name": f"{FAMILY[n % len(FAMILY)]}{n}",
        "email.work": f"person{n}@example.org",
        "phone.mobile": f"+4930{1_000_000 + n}",
        "city": "Berlin",
        "street": f"Hauptstraße {n}",
        "country": "DE",
        "tags": "imported; vip" if n % 2 else "imported",
        "custom.tier": "gold" if n % 3 else "",
        **overrides,
    }
    return ",".join(cells[column] for column in PEOPLE_HEADER.split(",")) + "\r\n"


def people_csv(rows: range, *extra: str) -> bytes:
    return (PEOPLE_HEADER + "\r\n" + "".join(map(person_row, rows)) + "".join(extra)).encode()


def post(client: TestClient, path: str, body: bytes, key: str, **headers: str) -> Any:
    headers = {"Content-Type": "text/csv", "Idempotency-Key": key, **WRITE, **headers}
    return client.post(path, content=body, headers=headers)


def report(client: TestClient, response: Any, **params: Any) -> dict[str, Any]:
    assert response.status_code in (200, 202), response.text
    found = client.get(response.headers["Location"], params=params, headers=WRITE)
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


def notifications(application: ContactsApplication) -> int:
    return application.recorder.max_notification_id() or 0


def test_ten_thousand_rows_are_imported_and_bad_rows_reported(
    large_import_client: TestClient,
) -> None:
    client = large_import_client
    bad = [
        person_row(10_001, **{"email.work": "not-an-e-mail"}),
        person_row(10_002, **{"family_name": "", "custom.tier": "bronze"}),
        "crm-10003,too,many,cells,,,,,,,,\r\n",
    ]
    body = people_csv(range(10_000), *bad)

    job = report(client, post(client, "/imports/people", body, str(uuid4())), limit=10)

    assert job["status"] == "completed", job
    assert (job["rows_read"], job["created"], job["unchanged"], job["rejected"]) == (
        10_003,
        10_000,
        0,
        3,
    )
    assert job["rejections"] == [
        {
            "row": 10_002,
            "column": "email.work",
            "reason": "emails.0.address: not an e-mail address:"
            " An email address must have an @-sign.",
        },
        {"row": 10_003, "column": "family_name", "reason": "is required"},
        {"row": 10_003, "column": "custom.tier", "reason": "must be one of gold, silver"},
        {"row": 10_004, "column": "row", "reason": "has 12 cells; the header has 10"},
    ]


def test_posting_an_import_again_changes_nothing(
    application: ContactsApplication, client: TestClient
) -> None:
    key, body = str(uuid4()), people_csv(range(20_000, 20_050))
    first = report(client, post(client, "/imports/people", body, key))
    recorded = notifications(application)

    again = post(client, "/imports/people", body, key)

    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first["id"] and again.json()["created"] == 50
    assert notifications(application) == recorded


def test_an_interrupted_import_resumes_without_registering_anything_twice(
    application: ContactsApplication, client: TestClient
) -> None:
    key, body = str(uuid4()), people_csv(range(30_000, 30_040))
    first = report(client, post(client, "/imports/people", body, key))
    recorded = notifications(application)
    with Directory.of(application).datastore.transaction(commit=True) as cursor:
        # As a process that died mid-import leaves its job: running, not heard of for long.
        cursor.execute(
            f"UPDATE {JOBS} SET status = 'running', updated_at = now() - interval '1 hour'"
            " WHERE id = %s",
            (first["id"],),
        )

    resumed = report(client, post(client, "/imports/people", body, key))

    assert (resumed["status"], resumed["created"], resumed["unchanged"]) == ("completed", 0, 40)
    assert notifications(application) == recorded


def test_rows_repeating_an_external_id_with_other_values_are_rejected(
    client: TestClient,
) -> None:
    body = people_csv(range(40_000, 40_002), person_row(40_000), person_row(40_001, city="Bonn"))

    job = report(client, post(client, "/imports/people", body, str(uuid4())))

    assert (job["created"], job["unchanged"], job["rejected"]) == (2, 1, 1)
    assert job["rejections"] == [
        {
            "row": 5,
            "column": "external_id",
            "reason": "repeats the external_id of row 3 with other values",
        }
    ]


def test_rows_without_external_id_are_told_apart_by_their_number(
    application: ContactsApplication, client: TestClient
) -> None:
    body = people_csv(
        range(0), person_row(50_000, external_id=""), person_row(50_000, external_id="")
    )

    job = report(client, post(client, "/imports/people", body, str(uuid4())))

    assert (job["created"], job["rejected"]) == (2, 0)


def test_people_are_linked_to_organizations_imported_before_by_name(
    application: ContactsApplication, client: TestClient, projection: DirectoryProjection
) -> None:
    name = f"Initech {uuid4().hex[:6]}"
    organizations = (
        "external_id,name,kinds,partner_type,website,country,city,street\r\n"
        f"org-1,{name},partner; customer,reseller,initech.example,US,Austin,1 Main St\r\n"
        "org-2,Nameless,,,,,,\r\n"
    )
    orgs = report(
        client, post(client, "/imports/organizations", organizations.encode(), str(uuid4()))
    )
    assert (orgs["created"], orgs["rejections"]) == (
        1,
        [{"row": 3, "column": "kinds", "reason": "is required"}],
    )
    projection.catch_up()
    people = (
        "given_name,family_name,organization,job_title,organization_id\r\n"
        f"Peter,Gibbons,{name},Programmer,\r\n"
        "Bill,Lumbergh,Unknown Corp,Manager,\r\n"
        f"Milton,Waddams,,Collator,{uuid4()}\r\n"
    )

    job = report(client, post(client, "/imports/people", people.encode(), str(uuid4())))

    assert job["created"] == 1
    assert job["rejections"] == [
        {"row": 3, "column": "organization", "reason": "no organization has this name"},
        {"row": 4, "column": "organization_id", "reason": "no such organization"},
    ]
    projection.catch_up()
    listed = client.get("/customers", params={"q": "gibbons"}, headers=WRITE).json()["items"]
    [organization] = listed[0]["organization_ids"]
    assert isinstance(application.repository.get(organization), Organization)
    assert isinstance(application.repository.get(listed[0]["id"]), Customer)


def test_rejections_are_paged(client: TestClient) -> None:
    rows = [person_row(n, country="XX") for n in range(60_000, 60_005)]
    response = post(client, "/imports/people", people_csv(range(0), *rows), str(uuid4()))

    first = report(client, response, limit=2)
    second = report(client, response, limit=2, cursor=first["next_cursor"])

    assert [r["row"] for r in first["rejections"] + second["rejections"]] == [2, 3, 4, 5]
    assert all(r["column"] == "country" for r in first["rejections"])


def test_a_bad_header_is_refused_whole_naming_each_column(
    application: ContactsApplication, client: TestClient
) -> None:
    recorded = notifications(application)
    body = b"given_name,surname,email,email,custom.shoe_size\r\nAda,Lovelace,a@b.org,,\r\n"

    problem = assert_problem(post(client, "/imports/people", body, str(uuid4())), 422)

    assert {(e["field"], e["detail"]) for e in problem["errors"]} == {
        ("body.surname", "unknown column"),
        ("body.custom.shoe_size", "unknown column"),
        ("body.email", "appears twice"),
        ("body.family_name", "required column missing"),
    }
    assert notifications(application) == recorded


def test_rows_with_unsafe_or_unreadable_cells_are_rejected_and_the_rest_imported(
    client: TestClient,
) -> None:
    huge = '"' + "w\r\n" * 70_000 + '",x\r\n'  # one quoted cell over csv's limit, many lines
    rows = [
        person_row(80_000),
        person_row(80_001, family_name="Love\x00lace"),
        huge,
        person_row(80_002, street="Rue\x1b[2J 1"),
        person_row(80_003),
    ]
    response = post(client, "/imports/people", people_csv(range(0), *rows), str(uuid4()))

    found = report(client, response)

    assert (found["status"], found["created"], found["rejected"]) == ("completed", 2, 3)
    assert [(r["row"], r["column"]) for r in found["rejections"]] == [
        (3, "family_name"),
        (4, "row"),
        (5, "street"),
    ]
    assert "NUL" in found["rejections"][0]["reason"]
    assert "field limit" in found["rejections"][1]["reason"]


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("x" * 200_000, "the header row cannot be read as CSV: field larger than field limit"),
        ("x" * 2_000, "is longer than 1024 characters"),
        ("family\x00name", "contains a NUL character (U+0000)"),
    ],
)
def test_a_header_too_long_or_unsafe_is_refused(
    application: ContactsApplication, client: TestClient, name: str, detail: str
) -> None:
    recorded = notifications(application)
    body = f"family_name,{name}\r\nLovelace,x\r\n".encode()

    problem = assert_problem(post(client, "/imports/people", body, str(uuid4())), 422)

    [error] = problem["errors"]
    assert error["detail"].startswith(detail)
    assert len(error["field"]) < 100
    assert notifications(application) == recorded


@pytest.mark.parametrize(
    ("content_type", "body", "status", "field"),
    [
        ("application/json", b'{"given_name": "Ada"}', 415, None),
        ("text/csv; charset=x-no-such-charset", b"family_name\r\nMuller\r\n", 415, None),
        ("text/csv", b"family_name\r\n" + bytes(range(256)) * 50, 422, "body"),
        ("text/csv", b"", 422, "body"),
        ("text/csv", b"\r\n\r\n", 422, "body"),
    ],
)
def test_a_body_that_is_no_csv_text_is_refused(
    client: TestClient, content_type: str, body: bytes, status: int, field: str | None
) -> None:
    response = post(client, "/imports/people", body, str(uuid4()), **{"Content-Type": content_type})

    problem = assert_problem(response, status)
    if field is not None:
        assert problem["errors"][0]["field"] == field


def test_a_key_used_for_another_file_is_refused(client: TestClient) -> None:
    key = str(uuid4())
    report(client, post(client, "/imports/people", people_csv(range(70_000, 70_001)), key))

    response = post(client, "/imports/people", people_csv(range(70_001, 70_002)), key)

    assert assert_problem(response, 422)["errors"][0]["field"] == "header.Idempotency-Key"


def test_imports_need_a_key_and_the_write_scope(client: TestClient) -> None:
    body = people_csv(range(1))
    no_key = client.post(
        "/imports/people", content=body, headers={"Content-Type": "text/csv", **WRITE}
    )
    assert assert_problem(no_key, 422)["errors"][0]["field"] == "header.Idempotency-Key"
    reader = bearer("contacts:read")
    response = client.post(
        "/imports/people",
        content=body,
        headers={"Content-Type": "text/csv", "Idempotency-Key": str(uuid4()), **reader},
    )
    assert_problem(response, 403)
    assert_problem(client.get(f"/imports/{uuid4()}", headers=WRITE), 404)
