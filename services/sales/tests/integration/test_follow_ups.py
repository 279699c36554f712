"""What marketing asks of sales' owners, on real Kafka and PostgreSQL: an interested call and an
automated campaign's owner task each become one task for the customer's owner, however often
the event is delivered; a customer nobody owns gets none."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events.marketing import CallOutcome, CampaignCallRecorded, OwnerTaskRequested
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async
from crm_sales.activities import follow_ups
from crm_sales.activities.application.index import ActivityFilter
from crm_sales.activities.domain.activities import RecordRef, RecordType
from crm_sales.application import SalesApplication
from crm_sales.pipeline.application.opportunities import OpportunityDraft
from crm_sales.shared.application.store import Command

from .feed import produce, published, worker

pytestmark = pytest.mark.integration


def tasks_about(app: SalesApplication, customer: UUID) -> list[Any]:
    regarding = RecordRef(RecordType.CUSTOMER, customer)
    return app.list_activities(ActivityFilter(regarding=regarding)).items


def owned_by(app: SalesApplication, owner: str) -> UUID:
    customer = uuid4()
    draft = OpportunityDraft(
        name="Renewal",
        amount=Decimal("1200"),
        currency="EUR",
        expected_close_date=date.today() + timedelta(days=30),
        owner=owner,
        contact_id=customer,
    )
    app.open_opportunity(Command(uuid4(), "f", owner), draft)
    return customer


def call(customer: UUID, outcome: CallOutcome) -> Any:
    data = CampaignCallRecorded(
        campaign_id=uuid4(),
        customer_id=customer,
        outcome=outcome,
        agent="dan@example.org",
        called_at=datetime.now(UTC),
    )
    return published(data, data.campaign_id, 5, "marketing")


def owner_task(customer: UUID) -> Any:
    now = datetime.now(UTC)
    data = OwnerTaskRequested(
        send_id=uuid4(),
        campaign_id=uuid4(),
        customer_id=customer,
        trigger="AnnualDate",
        subject="Suggest a present: the spouse's birthday is in 7 days",
        due_at=now,
        requested_at=now,
    )
    return published(data, data.send_id, 1, "marketing")


async def test_marketing_s_requests_become_one_task_each_for_the_customer_s_owner(
    app: SalesApplication, kafka: KafkaSettings
) -> None:
    customer, stranger = owned_by(app, "carol@example.org"), uuid4()
    interested, birthday = call(customer, CallOutcome.INTERESTED), owner_task(customer)

    async with worker(kafka, app, follow_ups.subscribe, follow_ups.TOPICS):
        await produce(
            kafka,
            interested,
            interested,  # redelivered
            call(customer, CallOutcome.NOT_INTERESTED),
            call(stranger, CallOutcome.INTERESTED),  # nobody owns them: no task
            birthday,
            birthday,
        )
        await eventually_async(
            lambda: len(tasks_about(app, customer)) == 2, what="the two tasks", within=60
        )
        await asyncio.sleep(1)  # time for the redeliveries to be (not) acted upon

    call_back, present = sorted(tasks_about(app, customer), key=lambda task: task.subject)
    assert call_back.subject == "Call back: interested on a campaign call"
    assert present.subject.startswith("Suggest a present")
    assert {call_back.owner, present.owner} == {"carol@example.org"}
    assert call_back.priority == "high" and present.due_at > datetime.now(UTC)
    assert tasks_about(app, stranger) == []
