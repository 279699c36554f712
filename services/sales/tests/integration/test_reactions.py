"""Sales reactions of the activities area on real Kafka and PostgreSQL: an escalated ticket puts the
account's deal at risk with one follow-up task, however often the event arrives; an erased
customer's activities go blind."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events import Event
from crm_events.contacts import CustomerErased
from crm_events.service_desk import EscalationReason, TicketEscalated, TicketPriority
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async
from crm_sales.activities.application.commands import ActivityDraft
from crm_sales.activities.application.index import ActivityFilter
from crm_sales.activities.domain.activities import ActivityKind, RecordRef, RecordType
from crm_sales.activities.messaging import TOPICS, subscribe
from crm_sales.application import SalesApplication
from crm_sales.pipeline.application.commands import OpportunityDraft
from crm_sales.shared.application.store import Command

from . import feed
from .feed import produce, published

pytestmark = pytest.mark.integration


def worker(kafka: KafkaSettings, app: SalesApplication) -> AbstractAsyncContextManager[None]:
    return feed.worker(kafka, app, subscribe, TOPICS)


def escalated(ticket: UUID, account: UUID, version: int) -> Event[Any]:
    data = TicketEscalated(
        ticket_id=ticket,
        customer_id=uuid4(),
        organization_id=account,
        priority=TicketPriority.HIGH,
        reason=EscalationReason.COMPLAINT,
        escalated_at=datetime.now(UTC),
    )
    return published(data, ticket, version, "service-desk")


def open_deal(app: SalesApplication, account: UUID) -> UUID:
    draft = OpportunityDraft(
        name="Renewal",
        amount=Decimal("8000.00"),
        currency="EUR",
        expected_close_date=date.today() + timedelta(days=60),
        owner="bob",
        account_id=account,
    )
    return app.open_opportunity(Command(uuid4(), "f", "bob"), draft).value.id


def follow_ups(app: SalesApplication, deal: UUID) -> list[Any]:
    where = ActivityFilter(regarding=RecordRef(RecordType.OPPORTUNITY, deal))
    return app.list_activities(where).items


async def test_an_escalation_arriving_three_times_flags_once_with_one_follow_up(
    app: SalesApplication, kafka: KafkaSettings
) -> None:
    account, other_account, ticket = uuid4(), uuid4(), uuid4()
    deal, marker_deal = open_deal(app, account), open_deal(app, other_account)
    first = escalated(ticket, account, 2)
    marker = escalated(ticket, other_account, 3)  # the same key: delivered after the others

    async with worker(kafka, app):
        await produce(kafka, first, first, first, marker)  # republished twice by the relay
        await eventually_async(
            lambda: bool(follow_ups(app, marker_deal)), what="the marker's follow-up", within=60
        )

    [task] = follow_ups(app, deal)
    assert (task.kind, task.owner, task.regarding.id) == (ActivityKind.TASK, "bob", deal)
    opportunity = app.get_opportunity(deal)
    assert opportunity.at_risk and len(opportunity.risks) == 1


async def test_an_erased_customers_activities_lose_their_text(
    app: SalesApplication, kafka: KafkaSettings
) -> None:
    customer = uuid4()
    draft = ActivityDraft(
        kind="task",
        subject="Send Ada the brochure",
        regarding=RecordRef(RecordType.CUSTOMER, customer),
        due_at=datetime.now(UTC) + timedelta(days=1),
    )
    task = app.schedule_activity(Command(uuid4(), "f", "bob"), draft).value
    erased = published(
        CustomerErased(customer_id=customer, erased_at=datetime.now(UTC)), customer, 5, "contacts"
    )

    async with worker(kafka, app):
        await produce(kafka, erased)
        await eventually_async(
            lambda: app.get_activity(task.id).erased_at is not None, what="the erasure", within=60
        )

    assert app.get_activity(task.id).subject is None
    assert app.personal_data_keys.is_destroyed(task.id)
