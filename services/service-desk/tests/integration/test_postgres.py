"""The application on PostgreSQL: its index tables, the SLA scheduler under concurrency and
restarts, full-text search, and erasure of the sealed texts in the store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from crm_platform.settings import PostgresSettings
from crm_service_desk.application import ServiceDeskApplication, TicketFilter
from crm_service_desk.application.commands import Assign
from crm_service_desk.bootstrap import build_application
from crm_service_desk.domain import SlaTarget

pytestmark = pytest.mark.integration

MONDAY_10 = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def clock() -> list[datetime]:
    return [MONDAY_10]


def started(postgres: PostgresSettings, clock: list[datetime]) -> ServiceDeskApplication:
    app = build_application(postgres)
    app.clock = lambda: clock[0]
    return app


@pytest.fixture
def application(
    postgres: PostgresSettings, clock: list[datetime]
) -> Iterator[ServiceDeskApplication]:
    app = started(postgres, clock)
    yield app
    app.close()


def open_urgent(app: ServiceDeskApplication, customer_id: UUID | None = None) -> UUID:
    return app.open_ticket(
        uuid4(),
        customer_id=customer_id or uuid4(),
        organization_id=None,
        subject="Checkout fails",
        description="Error 500 when paying with a card ending 4242",
        channel="web",
        priority="urgent",
        category="incident",
        request_fingerprint="f",
    ).value.id


def test_parallel_schedulers_record_every_breach_exactly_once(
    postgres: PostgresSettings, application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    tickets = [open_urgent(application) for _ in range(12)]
    clock[0] += timedelta(minutes=45)  # past the 30-minute first response of every one
    schedulers = [started(postgres, clock) for _ in range(3)]
    counts: list[int] = []
    try:
        threads = [
            threading.Thread(target=lambda s=s: counts.append(s.record_due_breaches()))
            for s in schedulers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for scheduler in schedulers:
            scheduler.close()

    assert sum(counts) == len(tickets)
    for ticket_id in tickets:
        ticket = application.get_ticket(ticket_id)
        assert ticket.sla[0].breached_at_due is not None and ticket.status == "escalated"
    assert application.record_due_breaches() == 0


def test_deadlines_survive_a_restart_and_a_lost_index_write(
    postgres: PostgresSettings, application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    ticket_id = uuid4()
    # The process dies after saving the ticket and before indexing it.
    put_ticket, application.index.put_ticket = application.index.put_ticket, lambda row: None
    application.open_ticket(
        ticket_id,
        customer_id=uuid4(),
        organization_id=None,
        subject="Down",
        description="All of it",
        channel="phone",
        priority="urgent",
        category="incident",
        request_fingerprint="f",
    )
    application.index.put_ticket = put_ticket
    clock[0] += timedelta(hours=5)  # past both urgent targets

    restarted = started(postgres, clock)
    try:
        restarted.catch_up_index()
        assert restarted.record_due_breaches() == 2
    finally:
        restarted.close()
    again = started(postgres, clock)
    try:
        again.catch_up_index()
        assert again.record_due_breaches() == 0
    finally:
        again.close()
    breaches = {s.target: s.breached_at_due for s in application.get_ticket(ticket_id).sla}
    assert breaches == {
        SlaTarget.FIRST_RESPONSE: MONDAY_10 + timedelta(minutes=30),
        SlaTarget.RESOLUTION: MONDAY_10 + timedelta(hours=4),
    }


def test_articles_are_found_by_keywords_with_stemming(application: ServiceDeskApplication) -> None:
    def publish(title: str, body: str, tags: list[str]) -> UUID:
        article = application.draft_article(
            uuid4(),
            title=title,
            body=body,
            tags=tags,
            source_ticket_id=None,
            author="bob",
            request_fingerprint="f",
        ).value
        application.publish_article(article.id, by="editor", expected_version=None)
        return article.id

    printers = publish(
        "Printer offline", "Restart the printers and check the cables.", ["hardware"]
    )
    refunds = publish("Refunds", "Duplicate charges are refunded within five days.", ["billing"])
    publish("Printer noise", "A grinding printer needs service.", [])
    draft = application.draft_article(
        uuid4(),
        title="Printer draft",
        body="Not yet",
        tags=[],
        source_ticket_id=None,
        author="bob",
        request_fingerprint="f",
    ).value

    assert printers in [hit.article_id for hit in application.search_articles("printer cable")]
    assert [hit.article_id for hit in application.search_articles("refunded charge")] == [refunds]
    assert [hit.article_id for hit in application.search_articles("billing")] == [refunds]
    assert draft.id not in [hit.article_id for hit in application.search_articles("printer")]
    assert [hit.title for hit in application.search_articles("printer -restart")] == [
        "Printer noise"
    ]


def test_erasure_leaves_only_ciphertext_in_the_store(
    postgres: PostgresSettings, application: ServiceDeskApplication
) -> None:
    customer = uuid4()
    ticket_id = open_urgent(application, customer)
    table = application.recorder.events_table_name  # type: ignore[attr-defined]
    with psycopg.connect(postgres.dsn(postgres.database or "")) as conn:
        stored = b"".join(row[0] for row in conn.execute(f"SELECT state FROM {table}").fetchall())
    assert b"4242" not in stored  # sealed at rest, before any erasure

    application.erase_customer(customer)

    assert application.personal_data_keys.is_destroyed(ticket_id)
    ticket = application.get_ticket(ticket_id)
    assert (ticket.subject, ticket.description) == (None, None)


def test_the_queue_pages_through_filtered_tickets(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    opened = []
    for _ in range(5):
        opened.append(open_urgent(application))
        clock[0] += timedelta(minutes=1)
    application.execute(
        opened[2], uuid4(), Assign("carol"), by="lead", expected_version=None, fingerprint="f"
    )

    pages, cursor = [], None
    while True:
        page = application.list_tickets(TicketFilter(priority="urgent"), cursor=cursor, limit=2)
        pages.append([ticket.id for ticket in page.items])
        if (cursor := page.next_cursor) is None:
            break
    assigned = application.list_tickets(
        TicketFilter(status="assigned", assignee="carol"), cursor=None, limit=10
    )

    assert pages == [opened[:-3:-1], opened[2:0:-1], opened[:1]]
    assert [ticket.id for ticket in assigned.items] == [opened[2]]
