from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.commands import Command
from crm_service_desk.application import ServiceDeskApplication, TicketCommand, TicketView
from crm_service_desk.bootstrap import build_api

# A Monday, 10:00 UTC: inside the default working hours (weekdays 09:00-17:00 UTC).
MONDAY_10 = datetime(2026, 3, 2, 10, tzinfo=UTC)


class Clock:
    """The application's clock, moved by the tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10)


@pytest.fixture
def application(clock: Clock) -> Iterator[ServiceDeskApplication]:
    app = ServiceDeskApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.clock = clock
    yield app
    app.close()


@pytest.fixture
def client(application: ServiceDeskApplication) -> Iterator[TestClient]:
    with TestClient(build_api(application)) as test_client:
        yield test_client


def issued(actor: str = "bob", fingerprint: str = "f") -> Command:
    """A command as a client's request (under a key of its own) gives it."""
    return Command(command_id=uuid4(), fingerprint=fingerprint, actor=actor)


def act(
    app: ServiceDeskApplication, ticket_id: UUID, method: Callable[..., object], **values: object
) -> TicketView:
    """Run ``method`` of the ticket (with ``values``) as a request of an agent would."""
    return app.change_ticket(issued(), ticket_id, TicketCommand(method, values)).value
