"""The sales read models on PostgreSQL past poison records: the pipeline index, the activity index
and the commerce read model, each a local projection of the platform.

A poison record is stored as the API would refuse it (a NUL in a text field the read model writes,
saved through the application): the read model quarantines exactly that record and applies the
records after it, a query that meets it answers without it, the worker's loops all keep running,
and a retry after a correcting event (or a fix) resolves the entry. Rows only ever move to newer
versions of their aggregates, and a rebuild gives the same rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.liveness import Registry
from crm_platform.projection import LocalProjection
from crm_platform.quarantine import Entry, State
from crm_platform.testing import eventually_async
from crm_platform.web.testing import assert_problem, bearer
from crm_sales.activities.application import index as activity_index
from crm_sales.activities.application.commands import ActivityDraft
from crm_sales.activities.application.index import ActivityFilter, ActivityIndex, IndexRow
from crm_sales.activities.domain.activities import Activity, RecordRef, RecordType
from crm_sales.activities.reminders import LOOP as REMINDERS
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC, background
from crm_sales.commerce.application import views as commerce_views
from crm_sales.commerce.application.views import CommerceViews, ProductQuery
from crm_sales.pipeline.application import index as pipeline_index
from crm_sales.pipeline.application.commands import LeadDetails
from crm_sales.pipeline.application.index import LeadFilter, PipelineIndex
from crm_sales.shared.application.store import Command

pytestmark = pytest.mark.integration

READ = bearer("sales:read")
ADMIN = bearer("sales:admin")
DEAL = RecordRef(RecordType.OPPORTUNITY, UUID("5c4b3a29-1807-4f6e-8d5c-4b3a2918f7e6"))


def command() -> Command:
    return Command(uuid4(), "f", "bob")


def lead(app: SalesApplication, family_name: str) -> UUID:
    details = LeadDetails(family_name=family_name, email=f"{uuid4().hex[:8]}@example.org")
    return app.capture_lead(command(), details).value.id


def activity(app: SalesApplication, owner: str, due_in: timedelta = timedelta(hours=1)) -> UUID:
    draft = ActivityDraft(
        kind="task",
        subject="Send the contract",
        regarding=DEAL,
        owner=owner,
        due_at=datetime.now(UTC) + due_in,
    )
    return app.schedule_activity(command(), draft).value.id


def product(app: SalesApplication, name: str) -> UUID:
    return app.add_product(
        command(),
        sku=f"SKU-{uuid4().hex[:8]}",
        name=name,
        description=None,
        unit="each",
        tax_category="standard",
    ).value.id


def leads_listed(app: SalesApplication) -> set[UUID]:
    return {entry.lead_id for entry in app.list_leads(LeadFilter())}


def activities_listed(app: SalesApplication) -> set[UUID]:
    return {a.id for a in app.list_activities(ActivityFilter(regarding=DEAL), limit=100).items}


def products_listed(app: SalesApplication) -> set[UUID]:
    return {row.product_id for row in app.list_products(ProductQuery(limit=10_000))}


class Mark:
    """The quarantine entries of a read model from a point on: what one test set aside."""

    def __init__(self, projection: LocalProjection[Any]) -> None:
        self.projection = projection
        newest = projection.quarantine.list(loop=projection.name, state=State.ALL, limit=10_000)
        self.after = max((entry.id for entry in newest.items), default=0)

    def entries(self) -> list[Entry]:
        listed = self.projection.quarantine.list(
            loop=self.projection.name, state=State.OPEN, after=self.after, limit=200
        )
        return listed.items


def assert_quarantined(entries: list[Entry], poison: UUID) -> None:
    """Every entry is of the poison record (one per notification of it), held, and tells why
    without the NUL."""
    assert entries and {entry.aggregate_id for entry in entries} == {str(poison)}
    for entry in entries:
        assert entry.state == "held" and entry.attempts == 1
        assert "DataError" in entry.error_type and "\x00" not in entry.error
        assert entry.position is not None and entry.record_key == str(entry.position)


@pytest.fixture(scope="module")
def pipeline(app: SalesApplication) -> PipelineIndex:
    return app.pipeline_index


@pytest.fixture(scope="module")
def activities(app: SalesApplication) -> ActivityIndex:
    return app.activity_index


@pytest.fixture(scope="module")
def commerce(app: SalesApplication) -> CommerceViews:
    return app.commerce_views


@pytest.fixture(scope="module")
def admin(app: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(app)) as client:
        yield client


# --- poison records ------------------------------------------------------------------------------


def test_a_lead_whose_name_holds_a_nul_is_quarantined_and_corrected_by_a_later_event(
    app: SalesApplication, pipeline: PipelineIndex
) -> None:
    pipeline.catch_up()
    mark = Mark(pipeline)
    poison = lead(app, "Bad\x00Name")  # the API refuses it: saved through the application
    after = lead(app, "After")

    pipeline.catch_up()

    assert after in leads_listed(app) and poison not in leads_listed(app)
    assert pipeline.position() == app.recorder.max_notification_id()
    entries = mark.entries()
    assert_quarantined(entries, poison)

    app.update_lead(command(), poison, {"family_name": "Goodname"})
    [row] = [e for e in app.list_leads(LeadFilter()) if e.lead_id == poison]
    assert row.family_name == "Goodname"
    assert all(pipeline.retry(entry) for entry in entries)
    assert mark.entries() == []


def test_an_activity_whose_owner_holds_a_nul_is_quarantined_and_applied_after_a_fix(
    app: SalesApplication, activities: ActivityIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    activities.catch_up()
    mark = Mark(activities)
    poison = activity(app, "bad\x00owner")
    after = activity(app, "carol")

    listed = activities_listed(app)

    assert after in listed and poison not in listed
    [entry] = mark.entries()
    assert_quarantined([entry], poison)
    assert activities.retry(entry) is False  # not fixed yet: held again, one more attempt
    again = activities.quarantine.get(entry.id)
    assert again is not None and (again.state, again.attempts) == ("held", 2)

    # A fix deployed: owners are written without what a text column cannot hold.
    original = IndexRow.of.__func__  # type: ignore[attr-defined]

    def fixed(cls: type[IndexRow], found: Activity) -> IndexRow:
        row = original(cls, found)
        return IndexRow(**{**vars(row), "owner": row.owner.replace("\x00", "")})

    monkeypatch.setattr(IndexRow, "of", classmethod(fixed))
    assert activities.retry(entry) is True
    assert poison in activities_listed(app)
    assert mark.entries() == []


def test_a_product_whose_name_holds_a_nul_is_quarantined_and_corrected_by_a_later_event(
    app: SalesApplication, commerce: CommerceViews
) -> None:
    commerce.catch_up()
    mark = Mark(commerce)
    poison = product(app, "Widget\x00")
    after = product(app, "Gadget")

    listed = products_listed(app)

    assert after in listed and poison not in listed
    entries = mark.entries()
    assert_quarantined(entries, poison)

    app.update_product(poison, command(), {"name": "Widget"})
    assert poison in products_listed(app)
    assert all(commerce.retry(entry) for entry in entries)
    assert mark.entries() == []


@pytest.mark.parametrize(
    ("create", "path"),
    [
        (lambda app: lead(app, "Http\x00Poison"), "/leads"),
        (lambda app: activity(app, "http\x00poison"), "/activities"),
        (lambda app: product(app, "Http\x00Poison"), "/products"),
    ],
)
def test_a_request_that_meets_a_poison_record_answers_without_it(
    app: SalesApplication,
    admin: TestClient,
    create: Callable[[SalesApplication], UUID],
    path: str,
) -> None:
    poison = create(app)  # the query is the first to meet it

    response = admin.get(path, headers=READ)

    assert response.status_code == 200, response.text
    assert str(poison) not in response.text


# --- the worker ----------------------------------------------------------------------------------


async def test_the_worker_s_loops_all_keep_running_past_poison_records(
    app: SalesApplication,
) -> None:
    projections = (app.pipeline_index, app.activity_index, app.commerce_views)
    marks = [Mark(projection) for projection in projections]
    stop, registry = asyncio.Event(), Registry()
    loops = [
        asyncio.create_task(loop.run(stop, service="sales", registry=registry))
        for loop in background(app)
    ]
    poisons = await asyncio.to_thread(
        lambda: [lead(app, "Loop\x00"), activity(app, "loop\x00"), product(app, "Loop\x00")]
    )
    fine = await asyncio.to_thread(
        lambda: (lead(app, "Loop"), activity(app, "dave", -timedelta(seconds=1)), product(app, "L"))
    )

    def current() -> bool:
        # Without catching up: what the worker's loops applied.
        with app.pipeline_index.datastore.transaction(commit=False) as cursor:
            found = []
            for table, key in (
                (pipeline_index.LEADS, "lead_id"),
                (activity_index.TABLE, "activity_id"),
                (commerce_views.PRODUCTS, "product_id"),
            ):
                cursor.execute(f"SELECT 1 FROM {table} WHERE {key} = ANY(%s)", (list(fine),))
                found += cursor.fetchall()
        fell_due = app.get_activity(fine[1]).fell_due_for is not None
        return len(found) == len(fine) and fell_due

    await eventually_async(current, what="every fine record in its read model", within=15)
    reports = registry.reports()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*loops), timeout=10)

    assert await asyncio.to_thread(current)
    names = [projection.name for projection in projections] + [REMINDERS]
    for name in names:
        report = reports[f"loop:{name}"]
        assert (report.alive, report.ready, report.state) == (True, True, "running"), name
    for mark, poison in zip(marks, poisons, strict=True):
        assert_quarantined(mark.entries(), poison)


# --- operators ------------------------------------------------------------------------------------


def test_operators_list_get_and_retry_a_quarantined_lead_through_the_admin_api(
    app: SalesApplication, pipeline: PipelineIndex, admin: TestClient
) -> None:
    pipeline.catch_up()
    poison = lead(app, "Admin\x00Poison")
    pipeline.catch_up()

    listed = admin.get("/admin/quarantine", params={"loop": pipeline.name}, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    items = [i for i in listed.json()["items"] if i["aggregate_id"] == str(poison)]
    assert items and all(i["state"] == "held" for i in items) and "\\u0000" not in listed.text
    item = items[0]
    assert admin.get(f"/admin/quarantine/{item['id']}", headers=ADMIN).json() == item

    failed = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
    assert failed.status_code == 200, failed.text
    assert (failed.json()["outcome"], failed.json()["entry"]["attempts"]) == ("failed", 2)

    app.update_lead(command(), poison, {"family_name": "Fixed"})
    retried = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
    assert (retried.json()["outcome"], retried.json()["entry"]["state"]) == (
        "resolved",
        "resolved",
    )
    assert_problem(admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN), 409)
    assert_problem(admin.get("/admin/quarantine", headers=READ), 403)
    assert_problem(admin.get("/admin/quarantine/999999999", headers=ADMIN), 404)


# --- versions and rebuilds -----------------------------------------------------------------------


def test_an_older_state_never_overwrites_a_newer_row(
    app: SalesApplication,
    pipeline: PipelineIndex,
    activities: ActivityIndex,
    commerce: CommerceViews,
) -> None:
    first = app.recorder.max_notification_id()
    kept = lead(app, "Old")
    moved = activity(app, "erin")
    renamed = product(app, "Old name")
    created = app.recorder.select_notifications(first, 50, inclusive_of_start=False)
    app.update_lead(command(), kept, {"family_name": "New"})
    app.reschedule_activity(command(), moved, due_at=datetime.now(UTC) + timedelta(days=3))
    app.update_product(renamed, command(), {"name": "New name"})
    for projection in (pipeline, activities, commerce):
        projection.catch_up()
        relevant = [n for n in created if n.topic.startswith(projection.topics)]
        stale = projection.compute(relevant)  # the records as they were created
        with projection.datastore.transaction(commit=True) as cursor:
            projection.write(cursor, stale)

    [row] = [e for e in app.list_leads(LeadFilter()) if e.lead_id == kept]
    assert row.family_name == "New"
    [listed] = [a for a in app.list_activities(ActivityFilter(owner="erin")).items]
    assert listed.due_at > datetime.now(UTC) + timedelta(days=2)
    names = {r.product_id: r.name for r in app.list_products(ProductQuery(limit=10_000))}
    assert names[renamed] == "New name"


@pytest.mark.parametrize("model", [PipelineIndex, ActivityIndex, CommerceViews])
def test_a_rebuilt_read_model_holds_the_same_rows(
    empty_app: SalesApplication, model: type[LocalProjection[Any]]
) -> None:
    app = empty_app
    projection = model(app)  # type: ignore[call-arg]
    projection.create_tables()
    lead(app, "Rebuilt")
    activity(app, "frank")
    product(app, "Rebuilt")
    projection.catch_up()
    before = snapshot(projection)

    projection.rebuild()
    assert snapshot(projection) == {table: [] for table in before}
    projection.catch_up()

    assert snapshot(projection) == before


def snapshot(projection: LocalProjection[Any]) -> dict[str, list[Any]]:
    tables = {
        PipelineIndex: (pipeline_index.LEADS, pipeline_index.OPPORTUNITIES),
        ActivityIndex: (activity_index.TABLE,),
        CommerceViews: (commerce_views.PRODUCTS, commerce_views.INVOICES),
    }[type(projection)]
    rows = {}
    with projection.datastore.transaction(commit=False) as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
            rows[table] = cursor.fetchall()
    return rows
