"""The organization 360 and the partner figures on real Kafka and a real MongoDB-wire server:
organizations are known from contacts' organization topic (name, kinds, hierarchy, partner type,
PartnerRegistered at its carrier's version), with or without deals, and partners' deals add up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from crm_analytics.api.partner_routes import partner_router
from crm_analytics.api.routes import organization_router
from crm_analytics.read_models.event_archive import History
from crm_analytics.read_models.organization_360 import OrganizationModel, OrganizationReads
from crm_events import EventData
from crm_events.contacts.organization import (
    OrganizationKind,
    OrganizationProfileUpdated,
    OrganizationRegistered,
    PartnerRegistered,
    PartnerType,
)
from crm_events.sales.opportunities import (
    OpportunityOpened,
    OpportunityPartnerRegistered,
    OpportunityWon,
    PartnerAttribution,
)
from crm_platform.consumer import dead_letter_topic
from crm_platform.devtoken import issue_token
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.read_models import Catalog, subscribe_read_model
from crm_platform.relay import integration_event
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async
from crm_platform.web.app import create_api

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def published(data: EventData, aggregate_id: UUID, version: int, part: int = 0) -> Any:
    """As a relay publishes it (``part``: the second event of one domain event)."""
    origin = SimpleNamespace(originator_id=aggregate_id, originator_version=version, timestamp=NOW)
    return integration_event(data, origin, None, source_service=data.source_service, part=part)


@pytest.fixture
async def live(kafka_bootstrap: str, database: Any, unique_name: Any) -> AsyncIterator[Any]:
    """The organization 360 fed live from a topic of the test's own; its API and a producer."""
    topic, group = unique_name("test.analytics.org"), unique_name("test.analytics.org")
    await ensure_topics(kafka_bootstrap, [topic, dead_letter_topic(group)])
    model = OrganizationModel()
    model.topics = (topic,)
    catalog = Catalog(database, [model], write_concern=1, cache_seconds=0)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    broker = make_broker(kafka)
    subscribe_read_model(broker, model, catalog, group_id=group, backoff=0.01)
    reads = OrganizationReads(catalog)
    routers = [organization_router(reads, History(catalog)), partner_router(reads)]
    app = create_api(title="t", service="analytics", routers=routers)
    token = issue_token(["analytics:read"])
    producer = make_producer(kafka)
    await producer.start()

    async def send(*events: Any) -> None:
        for event in events:
            await producer.send(
                topic, event.to_json(), key=event.kafka_key(), headers=event.kafka_headers()
            )
        await producer.flush()

    async with broker:
        await broker.start()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://analytics",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield send, client
    await producer.stop()


def opened(opportunity: UUID, amount: str, probability: int) -> OpportunityOpened:
    return OpportunityOpened(
        opportunity_id=opportunity,
        name=f"Deal {amount}",
        pipeline_id=uuid4(),
        stage_id="proposal",
        stage_name="Proposal",
        probability=probability,
        amount=Decimal(amount),
        currency="EUR",
        expected_close_date=date(2027, 3, 31),
        owner="bob",
        opened_at=NOW,
    )


def partnered(opportunity: UUID, partner: UUID, attribution: str) -> OpportunityPartnerRegistered:
    return OpportunityPartnerRegistered(
        opportunity_id=opportunity,
        partner_id=partner,
        attribution=PartnerAttribution(attribution),
        registered_by="bob",
        registered_at=NOW,
    )


async def answered(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    async def ready() -> Any:
        response = await client.get(path, params=params)
        return response.json() if response.status_code == 200 else None

    return await eventually_async(ready, what=path)


async def test_every_registered_organization_answers_with_its_names_and_hierarchy(
    live: Any,
) -> None:
    send, client = live
    group, reseller = uuid4(), uuid4()
    await send(
        published(
            OrganizationRegistered(
                organization_id=group,
                name="Nordic Group",
                kinds=[OrganizationKind.CUSTOMER],
                registered_at=NOW,
            ),
            group,
            1,
        ),
        published(
            OrganizationRegistered(
                organization_id=reseller,
                name="Fjord Resellers",
                kinds=[OrganizationKind.CUSTOMER],
                registered_at=NOW,
            ),
            reseller,
            1,
        ),
        # It becomes a partner, under the group: PartnerRegistered rides at version 2 too.
        published(
            OrganizationProfileUpdated(
                organization_id=reseller,
                changed=["kinds", "partner_type", "parent_id"],
                kinds=[OrganizationKind.CUSTOMER, OrganizationKind.PARTNER],
                partner_type=PartnerType.RESELLER,
                parent_id=group,
                updated_at=NOW,
            ),
            reseller,
            2,
        ),
        published(
            PartnerRegistered(
                organization_id=reseller, partner_type=PartnerType.RESELLER, registered_at=NOW
            ),
            reseller,
            2,
            part=1,
        ),
    )

    async def partner_known() -> Any:
        response = await client.get(f"/organizations/{reseller}/360")
        body = response.json()
        return body if response.status_code == 200 and body["partner_since"] else None

    child = await eventually_async(partner_known, what="the reseller's partnership")
    parent = await answered(client, f"/organizations/{group}/360")

    assert (child["name"], child["kinds"], child["partner_type"]) == (
        "Fjord Resellers",
        ["customer", "partner"],
        "reseller",
    )
    assert child["parent"] == {"organization_id": str(group), "name": "Nordic Group"}
    assert child["open_deals"] == [] and child["revenue"] == []  # no deal: still answers
    assert parent["subsidiaries"] == [{"organization_id": str(reseller), "name": "Fjord Resellers"}]
    unknown = await client.get(f"/organizations/{uuid4()}/360")
    assert unknown.status_code == 404


async def test_partner_pipeline_and_won_revenue_add_up_by_hand(live: Any) -> None:
    send, client = live
    partner = uuid4()
    first, second, third, fourth = uuid4(), uuid4(), uuid4(), uuid4()
    won = OpportunityWon(
        opportunity_id=third,
        pipeline_id=uuid4(),
        from_stage_id="proposal",
        stage_id="won",
        amount=Decimal("5200.00"),  # the final amount, not the 5000 it opened with
        currency="EUR",
        owner="bob",
        won_by="bob",
        won_at=NOW,
    )
    await send(
        published(
            OrganizationRegistered(
                organization_id=partner,
                name="Fjord Resellers",
                kinds=[OrganizationKind.PARTNER],
                partner_type=PartnerType.RESELLER,
                registered_at=NOW,
            ),
            partner,
            1,
        ),
        published(opened(first, "1000.00", 20), first, 1),
        published(partnered(first, partner, "sourced"), first, 2),
        published(opened(second, "3000.00", 50), second, 1),
        published(partnered(second, partner, "sourced"), second, 2),
        published(opened(third, "5000.00", 60), third, 1),
        published(partnered(third, partner, "sourced"), third, 2),
        published(won, third, 3),
        published(opened(fourth, "400.00", 25), fourth, 1),
        published(partnered(fourth, partner, "influenced"), fourth, 2),
    )

    async def all_in() -> Any:
        response = await client.get("/analytics/sales/partners", params={"partner_id": partner})
        items = response.json()["items"]
        return items if sum(i["open_count"] + i["won_count"] for i in items) == 4 else None

    items = await eventually_async(all_in, what="the partner's four deals")

    assert items == [
        {
            "partner_id": str(partner),
            "partner_name": "Fjord Resellers",
            "attribution": "influenced",
            "currency": "EUR",
            "open_count": 1,
            "open_amount": "400.00",
            "weighted_amount": "100.00",
            "won_count": 0,
            "won_amount": "0",
        },
        {
            "partner_id": str(partner),
            "partner_name": "Fjord Resellers",
            "attribution": "sourced",
            "currency": "EUR",
            "open_count": 2,
            "open_amount": "4000.00",
            "weighted_amount": "1700.00",
            "won_count": 1,
            "won_amount": "5200.00",
        },
    ]
    sourced = await client.get("/analytics/sales/partners", params={"attribution": "sourced"})
    assert [i["attribution"] for i in sourced.json()["items"]] == ["sourced"]
    bad = await client.get("/analytics/sales/partners", params={"attribution": "paid"})
    assert bad.status_code == 422
