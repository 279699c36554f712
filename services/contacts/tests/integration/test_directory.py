"""The contacts directory on PostgreSQL: its projection, searches, pages, duplicates, and API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from crm_contacts.api import routers
from crm_contacts.api.directory import directory_router
from crm_contacts.application import ContactsApplication
from crm_contacts.application.directory import (
    PROJECTION,
    Directory,
    DirectoryEntry,
    DirectoryProjection,
    DirectoryQuery,
    RecordType,
    Sort,
)
from crm_contacts.application.directory import projection as projection_module
from crm_contacts.application.directory.schema import PAIRS, TABLE
from crm_contacts.domain import RecordKind, RuleViolation
from crm_platform.liveness import Registry
from crm_platform.quarantine import Entry, Quarantine, State
from crm_platform.testing import eventually_async
from crm_platform.web.app import create_api
from crm_platform.web.testing import assert_problem, bearer

from .conftest import command

pytestmark = pytest.mark.integration

READ = bearer("contacts:read")
ADMIN = bearer("contacts:admin")


@pytest.fixture(scope="module")
def projection(application: ContactsApplication) -> DirectoryProjection:
    projection = DirectoryProjection(application, batch_size=7)  # small: several batches
    projection.create_tables()
    return projection


@pytest.fixture(scope="module")
def directory(application: ContactsApplication, projection: DirectoryProjection) -> Directory:
    return Directory.of(application)


@pytest.fixture(scope="module")
def client(application: ContactsApplication) -> Iterator[TestClient]:
    api = create_api(title="contacts", service="contacts", routers=[directory_router(application)])
    with TestClient(api) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def acme(application: ContactsApplication) -> UUID:
    return organization(application, "Acme Ltd", kinds=["customer", "supplier"], country="GB")


@pytest.fixture(scope="module", autouse=True)
def tier(application: ContactsApplication) -> None:
    application.define_custom_field(
        RecordKind.PERSON,
        "tier",
        {"type": "enum", "label": "Tier", "options": ["gold", "silver"]},
        command(),
    )


def organization(application: ContactsApplication, name: str, **profile: Any) -> UUID:
    country = profile.pop("country", None)
    address = (
        [{"lines": ["1 High St"], "locality": "London", "country": country}] if country else []
    )
    organization_id = uuid4()
    application.register_organization(
        command(),
        organization_id,
        profile={"name": name, "kinds": ["customer"], "addresses": address, **profile},
    )
    return organization_id


def person(application: ContactsApplication, given: str, family: str, **profile: Any) -> UUID:
    customer_id = uuid4()
    application.register_customer(
        command(), customer_id, profile={"given_name": given, "family_name": family, **profile}
    )
    return customer_id


def email(address: str) -> list[dict[str, str]]:
    return [{"address": address, "type": "work"}]


def people(directory: Directory, **filters: Any) -> list[str]:
    page = directory.search(DirectoryQuery(RecordType.PERSON, **filters), limit=200)
    return [entry.display_name for entry in page]


def test_people_and_organizations_are_listed_and_found_by_text(
    application: ContactsApplication,
    projection: DirectoryProjection,
    directory: Directory,
    acme: UUID,
) -> None:
    person(
        application,
        "Zoë",
        "Ørsted",
        emails=email("zoe@orsted.example"),
        phones=[{"number": "+44 20 7946 0958"}],
        roles=[{"organization_id": str(acme), "title": "Buyer"}],
        tags=["VIP"],
        custom_fields={"tier": "gold"},
    )
    person(application, "Grace", "Hopper", emails=email("grace@navy.example"))
    projection.catch_up()

    assert "Zoë Ørsted" in people(directory, text="zoe")  # accents and case do not matter
    assert people(directory, text="ZOE@ORSTED") == ["Zoë Ørsted"]
    assert people(directory, text="020 7946 0958") == []  # a national number is another one
    assert people(directory, text="+44 (20) 7946-0958") == ["Zoë Ørsted"]
    assert people(directory, text="acme") == ["Zoë Ørsted"]  # by their organization's name
    assert people(directory, tags=("vip",), organization_id=acme) == ["Zoë Ørsted"]
    assert people(directory, custom_fields=(("tier", "gold"),)) == ["Zoë Ørsted"]
    assert people(directory, custom_fields=(("tier", "silver"),)) == []
    organizations = directory.search(
        DirectoryQuery(RecordType.ORGANIZATION, kinds=("supplier",), country="GB"), limit=10
    )
    assert [o.display_name for o in organizations] == ["Acme Ltd"]


def test_time_ranges_and_every_sort_page_through_all_records_once(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    before = datetime.now(UTC)
    family = f"Pager{uuid4().hex[:6]}"
    ids = {person(application, given, family) for given in ["Bo", "Al", "Cy", "Di", "Ed"]}
    projection.catch_up()

    for sort in Sort:
        query = DirectoryQuery(RecordType.PERSON, text=family, sort=sort)
        seen: list[DirectoryEntry] = []
        while page := directory.search(
            query, limit=2, after=query.position(seen[-1]) if seen else None
        ):
            seen += page
        assert {e.id for e in seen} == ids and len(seen) == len(ids)
        keys = [getattr(e, sort.column) for e in seen]
        assert keys == sorted(keys, reverse=sort.descending)
    assert {e.display_name for e in seen} == {
        f"{g} {family}" for g in ["Bo", "Al", "Cy", "Di", "Ed"]
    }
    assert len(people(directory, text=family, created_after=before)) == 5
    assert people(directory, text=family, created_before=before) == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert people(directory, text=family, updated_after=later) == []


def test_a_cursor_only_continues_the_query_that_made_it(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    family = f"Cursor{uuid4().hex[:6]}"
    for given in ("Ann", "Ben"):
        person(application, given, family)
    projection.catch_up()
    query = DirectoryQuery(RecordType.PERSON, text=family)
    [first] = directory.search(query, limit=1)
    position = query.position(first)

    with pytest.raises(RuleViolation) as raised:
        directory.search(DirectoryQuery(RecordType.PERSON, text="other"), limit=1, after=position)
    assert (raised.value.location, raised.value.field) == ("query", "cursor")
    with pytest.raises(RuleViolation):
        directory.search(query, limit=1, after=(position[0], position[1], "not an id"))


def test_similar_people_are_candidate_duplicates_with_score_and_reasons(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    ada = person(application, "Ada", "Lovelace", emails=email("ada@analytical.example"))
    twin = person(application, "Ada", "Lovelase", emails=email("ada@analytical.example"))
    stranger = person(application, "Ada", "Byron", emails=email("byron@example.org"))
    projection.catch_up()

    candidates = directory.duplicates_of(ada, limit=10)

    assert candidates is not None
    assert [c.entry.id for c in candidates] == [twin]
    match = candidates[0].match
    assert match.is_likely and match.score > 0.9
    assert {r.field.value for r in match.reasons} == {"email", "name"}
    pairs = directory.duplicate_pairs(limit=200, min_score=0.9)
    assert {(p.person.id, p.other.id) for p in pairs} >= {tuple(sorted((ada, twin)))}
    assert not any(stranger in (p.person.id, p.other.id) for p in pairs)


def test_merged_away_and_erased_people_leave_the_directory_and_come_back_when_unmerged(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    survivor = person(application, "Alan", "Turing", emails=email("alan@bletchley.example"))
    duplicate = person(application, "Alan", "Turing", emails=email("turing@npl.example"))
    projection.catch_up()
    assert directory.duplicates_of(survivor, limit=5)

    merge_id = application.merge_customers(
        survivor, command(), duplicate_id=duplicate, duplicate_expected_version=None
    ).value.link.merge_id
    projection.catch_up()
    assert directory.get(duplicate) is None
    survivor_row = directory.get(survivor)
    assert survivor_row is not None and "turing@npl.example" in survivor_row.emails
    assert people(directory, text="turing@npl") == ["Alan Turing"]  # found as the survivor
    assert directory.duplicates_of(survivor, limit=5) == []

    application.unmerge_customers(survivor, merge_id, command())
    projection.catch_up()
    assert directory.get(duplicate) is not None
    assert [c.entry.id for c in directory.duplicates_of(survivor, limit=5) or []] == [duplicate]

    application.erase_customer(survivor, command())
    projection.catch_up()
    assert directory.get(survivor) is None
    assert people(directory, text="alan@bletchley") == []
    assert all(survivor not in (p.person.id, p.other.id) for p in pairs_of(directory))


def test_a_rebuilt_directory_is_the_same_and_reveals_no_erased_person(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    erased = person(application, "Mata", "Hari", emails=email("mata@hari.example"))
    projection.catch_up()
    application.erase_customer(erased, command())
    projection.catch_up()
    before = snapshot(directory)

    projection.rebuild()
    assert snapshot(directory) == ([], [])
    projection.catch_up()

    assert snapshot(directory) == before
    rows, _ = before
    assert not any("mata" in str(row).lower() for row in rows)


def test_a_batch_the_database_fails_changes_nothing_and_is_applied_again(
    application: ContactsApplication,
    projection: DirectoryProjection,
    directory: Directory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    projection.catch_up()
    position = projection.position()
    customer = person(application, "Crash", "Test")

    def crash(*args: Any) -> None:
        raise OperationalError("the server closed the connection mid-batch")

    with monkeypatch.context() as patched:
        patched.setattr(projection_module, "_candidate_pairs", crash)
        with pytest.raises(OperationalError):
            projection.step()
    assert projection.position() == position
    assert directory.get(customer) is None
    assert open_entries(projection) == []  # a server's failure is never the record's

    projection.catch_up()
    assert directory.get(customer) is not None
    assert projection.position() == application.recorder.max_notification_id()


def test_a_person_whose_event_holds_a_nul_is_quarantined_and_the_directory_goes_on(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    projection.catch_up()
    poison = person(application, "Nul", "Bad\x00Name")  # stored as is: the API refuses it
    after = person(application, "After", "Poison")

    projection.catch_up()

    assert directory.get(poison) is None
    assert directory.get(after) is not None
    assert projection.position() == application.recorder.max_notification_id()
    [entry] = [e for e in open_entries(projection) if e.aggregate_id == str(poison)]
    assert entry.loop == PROJECTION and entry.state == "held" and entry.attempts == 1
    assert "DataError" in entry.error_type and "\x00" not in entry.error
    assert entry.position is not None and entry.record_key == str(entry.position)

    # Corrected by a later event: listed at once, and the entry retried successfully.
    correct(application, poison, family_name="Goodname")
    projection.catch_up()
    assert directory.get(poison) is not None
    assert projection.retry(entry) is True
    resolved = projection.quarantine.get(entry.id)
    assert resolved is not None and resolved.state == "resolved"
    assert people(directory, text="goodname") == ["Nul Goodname"]


def test_a_retry_that_fails_again_keeps_the_entry_open_with_the_new_error(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    projection.catch_up()
    poison = person(application, "Still", "Bad\x00")
    projection.catch_up()
    [entry] = [e for e in open_entries(projection) if e.aggregate_id == str(poison)]

    assert projection.retry(entry) is False

    again = projection.quarantine.get(entry.id)
    assert again is not None and again.state == "held" and again.attempts == 2


def test_an_older_state_never_overwrites_a_newer_row_nor_revives_a_removed_one(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    projection.catch_up()
    first = application.recorder.max_notification_id()
    kept = person(application, "Old", "Version")
    gone = person(application, "Merged", "Away")
    created = [
        notification  # the registrations, not their commands' receipts
        for notification in application.recorder.select_notifications(
            first, 10, inclusive_of_start=False
        )
        if notification.topic.startswith(DirectoryProjection.topics)
    ]
    correct(application, kept, family_name="Newversion")
    survivor = person(application, "Survivor", "Away")
    application.merge_customers(
        survivor, command(), duplicate_id=gone, duplicate_expected_version=None
    )
    projection.catch_up()

    stale = projection.compute(created)  # both as registered
    assert {e.id for e in stale.upserted} == {kept, gone}
    with projection.datastore.transaction(commit=True) as cursor:
        projection.write(cursor, stale)

    row = directory.get(kept)
    assert row is not None and row.display_name == "Old Newversion"
    assert directory.get(gone) is None


async def test_the_worker_loop_keeps_the_directory_current_past_a_poison_person(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    stop, registry = asyncio.Event(), Registry()
    loop = asyncio.create_task(projection.loop(interval=0.05).run(stop, registry=registry))
    poison = await asyncio.to_thread(person, application, "Loop", "Poison\x00")
    customer = await asyncio.to_thread(person, application, "Loop", "Runner")
    await eventually_async(lambda: directory.get(customer), what="the customer's row")
    report = registry.reports()[f"loop:{PROJECTION}"]
    stop.set()
    await asyncio.wait_for(loop, timeout=10)

    assert directory.get(customer) is not None and directory.get(poison) is None
    assert not loop.cancelled() and loop.exception() is None
    assert report.alive and report.ready and report.state == "running"
    assert any(e.aggregate_id == str(poison) for e in open_entries(projection))


def test_concurrent_projections_apply_each_notification_once(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    family = f"Race{uuid4().hex[:6]}"
    ids = {person(application, f"Given{n}", family) for n in range(30)}
    workers = [DirectoryProjection(application, batch_size=5) for _ in range(3)]
    threads = [threading.Thread(target=worker.catch_up) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    found = directory.search(DirectoryQuery(RecordType.PERSON, text=family), limit=200)
    assert {e.id for e in found} == ids
    assert projection.position() == application.recorder.max_notification_id()


def test_operators_list_and_retry_quarantined_people_through_the_admin_api(
    application: ContactsApplication, projection: DirectoryProjection, directory: Directory
) -> None:
    projection.catch_up()
    poison = person(application, "Admin", "Poison\x00")
    projection.catch_up()
    api = create_api(title="contacts", service="contacts", routers=routers(application))
    with TestClient(api) as admin:
        listed = admin.get("/admin/quarantine", params={"loop": PROJECTION}, headers=ADMIN)
        assert listed.status_code == 200, listed.text
        [item] = [i for i in listed.json()["items"] if i["aggregate_id"] == str(poison)]
        assert item["state"] == "held" and "\u0000" not in listed.text
        assert admin.get(f"/admin/quarantine/{item['id']}", headers=ADMIN).json() == item

        failed = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
        assert failed.status_code == 200, failed.text
        assert failed.json()["outcome"] == "failed"
        assert failed.json()["entry"]["attempts"] == 2

        correct(application, poison, family_name="Fixed")
        retried = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
        assert retried.json()["outcome"] == "resolved"
        assert retried.json()["entry"]["state"] == "resolved"
        assert directory.get(poison) is not None
        again = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
        assert_problem(again, 409)

        assert_problem(admin.get("/admin/quarantine", headers=READ), 403)
        assert_problem(admin.get("/admin/quarantine/999999999", headers=ADMIN), 404)
        bad = admin.get("/admin/quarantine", params={"cursor": "x"}, headers=ADMIN)
        assert assert_problem(bad, 422)["errors"][0]["field"] == "query.cursor"


def test_the_admin_list_pages_with_a_next_link(
    application: ContactsApplication, projection: DirectoryProjection
) -> None:
    projection.catch_up()
    for n in range(3):
        person(application, f"Paged{n}", "Poison\x00")
    projection.catch_up()
    api = create_api(title="contacts", service="contacts", routers=routers(application))
    seen: list[int] = []
    with TestClient(api) as admin:
        params: dict[str, Any] = {"loop": PROJECTION, "state": "all", "limit": 2}
        while True:
            page = admin.get("/admin/quarantine", params=params, headers=ADMIN)
            assert page.status_code == 200, page.text
            seen += [item["id"] for item in page.json()["items"]]
            if (cursor := page.json()["next_cursor"]) is None:
                assert "Link" not in page.headers
                break
            assert 'rel="next"' in page.headers["Link"]
            params["cursor"] = cursor
    everything = projection.quarantine.list(loop=PROJECTION, state=State.ALL, limit=200)
    assert seen == [entry.id for entry in everything.items]


# --- the HTTP API --------------------------------------------------------------------------


def test_lists_answer_pages_with_a_next_link(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    family = f"Http{uuid4().hex[:6]}"
    for given in ("Ann", "Bea", "Cid"):
        person(application, given, family, tags=["gold"])
    projection.catch_up()

    first = client.get("/customers", params={"q": family, "limit": 2}, headers=READ)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [p["given_name"] for p in body["items"]] == ["Ann", "Bea"]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(
        "/customers", params={"q": family, "limit": 2, "cursor": body["next_cursor"]}, headers=READ
    )
    assert [p["given_name"] for p in second.json()["items"]] == ["Cid"]
    assert second.json()["next_cursor"] is None
    assert "Link" not in second.headers


def test_organizations_are_listed_by_kind(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    name = f"Partner {uuid4().hex[:6]}"
    organization(application, name, kinds=["partner"], partner_type="reseller")
    projection.catch_up()

    response = client.get("/organizations", params={"q": name, "kind": "partner"}, headers=READ)

    assert response.status_code == 200, response.text
    assert [(o["name"], o["kinds"]) for o in response.json()["items"]] == [(name, ["partner"])]


def test_a_buyer_lists_the_supplier_contacts_in_one_call(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    family = f"Kind{uuid4().hex[:6]}"
    supplier = organization(application, f"Bolts {family}", kinds=["supplier"])
    partner = organization(
        application, f"Resell {family}", kinds=["partner"], partner_type="reseller"
    )
    both = organization(application, f"Both {family}", kinds=["customer", "supplier"])

    def employee(given: str, *at: UUID) -> None:
        roles = [{"organization_id": str(org), "title": "Sales"} for org in at]
        person(application, given, family, roles=roles)

    employee("Ann", supplier)
    employee("Bea", partner)
    employee("Cid", both)
    employee("Dan", partner, supplier)
    employee("Eve")
    projection.catch_up()

    def listed(kind: str) -> list[str]:
        params = {"q": family, "organization_kind": kind}
        response = client.get("/customers", params=params, headers=READ)
        assert response.status_code == 200, response.text
        return [p["given_name"] for p in response.json()["items"]]

    assert listed("supplier") == ["Ann", "Cid", "Dan"]
    assert listed("partner") == ["Bea", "Dan"]
    assert listed("customer") == ["Cid"]
    refused = client.get("/customers", params={"organization_kind": "vendor"}, headers=READ)
    assert assert_problem(refused, 422)["errors"][0]["field"] == "query.organization_kind"


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"colour": "red"}, 400, "query.colour"),
        ({"cursor": "garbage"}, 422, "query.cursor"),
        ({"limit": 0}, 422, "query.limit"),
        ({"limit": 201}, 422, "query.limit"),
        ({"q": "!!!"}, 422, "query.q"),
        ({"sort": "shoe_size"}, 422, "query.sort"),
        ({"country": "XX"}, 422, "query.country"),
        ({"created_after": "2025-01-01T00:00:00"}, 422, "query.created_after"),
        ({"updated_before": "0001-01-01T00:00:00+14:00"}, 422, "query.updated_before"),
        ({"custom_field": "tier"}, 422, "query.custom_field.0"),
        ({"custom_field": "shoe_size:42"}, 422, "query.custom_field.0"),
        ({"organization_id": "not-an-id"}, 422, "query.organization_id"),
    ],
)
def test_bad_list_parameters_are_problems_naming_the_parameter(
    client: TestClient, params: dict[str, Any], status: int, field: str
) -> None:
    body = assert_problem(client.get("/customers", params=params, headers=READ), status)
    assert field in [error["field"] for error in body["errors"]]


def test_a_cursor_of_another_query_is_refused(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    for given in ("Ann", "Bob"):
        person(application, given, "Cursorson")
    projection.catch_up()
    page = client.get("/customers", params={"q": "cursorson", "limit": 1}, headers=READ).json()

    response = client.get(
        "/customers", params={"q": "other", "cursor": page["next_cursor"]}, headers=READ
    )

    assert assert_problem(response, 422)["errors"][0]["field"] == "query.cursor"


def test_duplicates_of_a_customer_and_the_pairs_to_review(
    application: ContactsApplication, projection: DirectoryProjection, client: TestClient
) -> None:
    first = person(application, "Katherine", "Johnson", emails=email("kj@nasa.example"))
    second = person(application, "Katharine", "Johnson", emails=email("kj@nasa.example"))
    projection.catch_up()

    response = client.get(f"/customers/{first}/duplicates", headers=READ)

    assert response.status_code == 200, response.text
    [candidate] = response.json()["items"]
    assert candidate["customer"]["id"] == str(second)
    assert candidate["likely"] is True
    reasons = {r["field"]: r for r in candidate["reasons"]}
    assert reasons["email"] == {
        "field": "email",
        "match": "exact",
        "similarity": 1.0,
        "values": ["kj@nasa.example"],
    }
    assert reasons["name"]["match"] == "similar"
    pairs = client.get("/duplicates", params={"min_score": 0.9, "limit": 200}, headers=READ)
    assert {frozenset((p["customer"]["id"], p["other"]["id"])) for p in pairs.json()["items"]} >= {
        frozenset((str(first), str(second)))
    }
    assert_problem(client.get(f"/customers/{uuid4()}/duplicates", headers=READ), 404)
    assert_problem(client.get("/duplicates", params={"min_score": 2}, headers=READ), 422)


def test_lists_need_the_read_scope(client: TestClient) -> None:
    assert_problem(client.get("/customers"), 401)
    assert_problem(client.get("/customers", headers=bearer("sales:read")), 403)


def correct(application: ContactsApplication, customer_id: UUID, **patch: Any) -> None:
    application.update_customer(customer_id, command(), patch=patch)


def open_entries(projection: DirectoryProjection) -> list[Entry]:
    quarantine: Quarantine = projection.quarantine
    return quarantine.list(loop=PROJECTION, state=State.OPEN, limit=200).items


def pairs_of(directory: Directory) -> list[Any]:
    return directory.duplicate_pairs(limit=200)


def snapshot(directory: Directory) -> tuple[list[Any], list[Any]]:
    with directory.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT * FROM {TABLE} ORDER BY id")
        rows = cursor.fetchall()
        cursor.execute(f"SELECT * FROM {PAIRS} ORDER BY person_id, other_id")
        return rows, cursor.fetchall()
