"""Fixtures of the integration tests: the application on a PostgreSQL database of the test's own,
with a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events import Event
from crm_platform.commands import Command
from crm_platform.settings import PostgresSettings
from crm_service_desk.application import (
    NewTicket,
    ServiceDeskApplication,
    TicketCommand,
    TicketView,
)
from crm_service_desk.bootstrap import build_application
from crm_service_desk.contracts import translate

# A Monday, 10:00 UTC: inside the default working hours (weekdays 09:00-17:00 UTC).
MONDAY_10 = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def postgres(postgres_server: Any, fresh_database: Callable[[str], str]) -> PostgresSettings:
    """The servers' settings, pointing at a database of the test's own."""
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("service_desk"),
    )


@pytest.fixture
def clock() -> list[datetime]:
    """The instant the applications of the test record: ``clock[0]``, moved by the test."""
    return [MONDAY_10]


def started(postgres: PostgresSettings, clock: list[datetime]) -> ServiceDeskApplication:
    """An application on the test's database, as a process would open it."""
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


def issued(actor: str = "bob") -> Command:
    """A command as a client's request (under a key of its own) gives it."""
    return Command(command_id=uuid4(), fingerprint="f", actor=actor)


def act(
    app: ServiceDeskApplication, ticket_id: UUID, method: Callable[..., object], **values: object
) -> TicketView:
    """Run ``method`` of the ticket (with ``values``) as a request of an agent would."""
    return app.change_ticket(issued(), ticket_id, TicketCommand(method, values)).value


def open_ticket(
    app: ServiceDeskApplication, priority: str = "urgent", customer_id: UUID | None = None
) -> UUID:
    return app.open_ticket(
        issued(),
        uuid4(),
        NewTicket(
            customer_id=customer_id or uuid4(),
            organization_id=None,
            subject="Checkout fails",
            description="Error 500 when paying with a card ending 4242",
            channel="web",
            priority=priority,
            category="incident",
        ),
    ).value.id


def published(app: ServiceDeskApplication) -> list[Event[Any]]:
    """What the relay would publish, in order."""
    events: list[Event[Any]] = []
    for notification in app.recorder.select_notifications(1, 1000):
        domain_event, metadata = app.mapper.decode_with_metadata(notification)
        events.extend(translate(domain_event, metadata))
    return events
