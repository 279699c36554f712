"""The application on PostgreSQL: the SLA scheduler's rounds under concurrency and restarts,
full-text search, the queue, and erasure of the sealed texts in the store."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from crm_platform.settings import PostgresSettings
from crm_service_desk.application import NewArticle, ServiceDeskApplication, TicketFilter
from crm_service_desk.domain import SlaTarget, Ticket
from crm_service_desk.messaging.scheduler import SlaScheduler

from .conftest import MONDAY_10, act, issued, open_ticket, started

pytestmark = pytest.mark.integration


def sla_round(app: ServiceDeskApplication) -> int:
    """One round of the worker's SLA scheduler; the breaches it recorded."""
    return asyncio.run(SlaScheduler(app).round())


def test_a_round_records_what_fell_due_once_and_only_that(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    urgent, normal = open_ticket(application, "urgent"), open_ticket(application, "normal")
    paused = open_ticket(application, "urgent")
    act(application, paused, Ticket.wait_on_customer)
    assert sla_round(application) == 0

    clock[0] += timedelta(minutes=31)  # past the urgent tickets' 30-minute first response
    assert sla_round(application) == 1
    assert sla_round(application) == 0

    assert application.get_ticket(urgent).status == "escalated"
    assert application.get_ticket(normal).status == "open"
    assert application.get_ticket(paused).sla[0].breached_at_due is None  # its clocks stand still


def test_parallel_schedulers_record_every_breach_exactly_once(
    postgres: PostgresSettings, application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    tickets = [open_ticket(application) for _ in range(12)]
    clock[0] += timedelta(minutes=45)  # past the 30-minute first response of every one
    schedulers = [started(postgres, clock) for _ in range(3)]
    counts: list[int] = []
    try:
        threads = [
            threading.Thread(target=lambda s=s: counts.append(sla_round(s))) for s in schedulers
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
    assert sla_round(application) == 0


def test_deadlines_survive_a_restart(
    postgres: PostgresSettings, application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    ticket_id = open_ticket(application)  # saved; the index never saw it before the restart
    clock[0] += timedelta(hours=5)  # past both urgent targets

    restarted = started(postgres, clock)
    try:
        assert sla_round(restarted) == 2
    finally:
        restarted.close()
    again = started(postgres, clock)
    try:
        assert sla_round(again) == 0
    finally:
        again.close()
    breaches = {s.target: s.breached_at_due for s in application.get_ticket(ticket_id).sla}
    assert breaches == {
        SlaTarget.FIRST_RESPONSE: MONDAY_10 + timedelta(minutes=30),
        SlaTarget.RESOLUTION: MONDAY_10 + timedelta(hours=4),
    }


def test_many_due_tickets_are_read_page_by_page(
    application: ServiceDeskApplication, clock: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm_service_desk.messaging.scheduler.PAGE", 2)
    tickets = [open_ticket(application) for _ in range(5)]
    clock[0] += timedelta(minutes=31)

    assert sla_round(application) == len(tickets)


def test_articles_are_found_by_keywords_with_stemming(application: ServiceDeskApplication) -> None:
    def publish(title: str, body: str, tags: list[str]) -> UUID:
        article = application.draft_article(
            issued(),
            uuid4(),
            NewArticle(
                title=title,
                body=body,
                tags=tags,
                source_ticket_id=None,
            ),
        ).value
        application.publish_article(article.id, by="editor", expected_version=None)
        return article.id

    printers = publish(
        "Printer offline", "Restart the printers and check the cables.", ["hardware"]
    )
    refunds = publish("Refunds", "Duplicate charges are refunded within five days.", ["billing"])
    publish("Printer noise", "A grinding printer needs service.", [])
    draft = application.draft_article(
        issued(),
        uuid4(),
        NewArticle(
            title="Printer draft",
            body="Not yet",
            tags=[],
            source_ticket_id=None,
        ),
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
    ticket_id = open_ticket(application, customer_id=customer)
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
        opened.append(open_ticket(application))
        clock[0] += timedelta(minutes=1)
    act(application, opened[2], Ticket.assign, assignee="carol")

    urgent, after = TicketFilter(priority="urgent"), None
    pages = []
    while page := application.list_tickets(urgent, after=after, limit=2):
        pages.append([ticket.id for ticket in page])
        after = (page[-1].opened_at, page[-1].id)
    assigned = application.list_tickets(
        TicketFilter(status="assigned", assignee="carol"), after=None, limit=10
    )

    assert pages == [opened[:-3:-1], opened[2:0:-1], opened[:1]]
    assert [ticket.id for ticket in assigned] == [opened[2]]
