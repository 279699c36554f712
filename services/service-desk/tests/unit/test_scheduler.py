"""The worker's SLA loop: it records what fell due, then waits, until told to stop."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.messaging.scheduler import run_sla_scheduler

from .conftest import Clock

pytestmark = pytest.mark.unit


async def test_the_loop_records_due_breaches_and_stops_when_told(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    ticket = application.open_ticket(
        uuid4(),
        customer_id=uuid4(),
        organization_id=None,
        subject="Down",
        description="All",
        channel="phone",
        priority="urgent",
        category="incident",
        request_fingerprint="f",
    ).value
    clock.advance(hours=1)
    stop = asyncio.Event()
    loop = asyncio.create_task(run_sla_scheduler(application, stop, poll_seconds=0.01))

    for _ in range(200):
        if application.get_ticket(ticket.id).sla[0].breached_at_due:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, 2)

    assert application.get_ticket(ticket.id).status == "escalated"
