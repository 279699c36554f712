"""The pipeline's reactions on real Kafka and PostgreSQL: a campaign response arriving (twice)
with sealed contact details becomes one lead, opened with the key from the key topic; the
customer's interactions then score the customer's open lead."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events.contacts.customer_v2 import CustomerContactedV2
from crm_events.marketing import CampaignResponseKind, CampaignResponseReceived
from crm_events.personal import PersonalDataKeyIssued, encode_key, new_key, seal
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async
from crm_sales.application import SalesApplication
from crm_sales.pipeline.application.commands import Command, LeadDetails, LeadFilter
from crm_sales.pipeline.domain.leads import LeadSource
from crm_sales.pipeline.messaging import TOPICS, subscribe

from . import feed
from .feed import produce, published

pytestmark = pytest.mark.integration


def worker(kafka: KafkaSettings, app: SalesApplication) -> AbstractAsyncContextManager[None]:
    return feed.worker(kafka, app, subscribe, [*TOPICS, PersonalDataKeyIssued.topic()])


def campaign_leads(app: SalesApplication, campaign: UUID) -> list[Any]:
    """The leads from ``campaign`` (the topic holds other tests' responses too)."""
    entries = app.list_leads(LeadFilter(source=LeadSource.CAMPAIGN))
    leads = [app.get_lead(e.lead_id) for e in entries]
    return [lead for lead in leads if lead.campaign_id == campaign]


async def test_a_response_delivered_twice_becomes_one_lead_with_its_details(
    app: SalesApplication, kafka: KafkaSettings
) -> None:
    respondent, campaign, key = uuid4(), uuid4(), new_key()
    issued = PersonalDataKeyIssued(subject_id=respondent, key=encode_key(key))
    data = CampaignResponseReceived(
        campaign_id=campaign,
        response_id=respondent,
        kind=CampaignResponseKind.FORM_SUBMISSION,
        name=seal({"given_name": "Grace", "family_name": "Hopper"}, key=key, subject=respondent),
        email=seal("grace@example.com", key=key, subject=respondent),
        answers={"country": "US", "company_size": 40},
        responded_at=datetime.now(UTC),
    )
    response = published(data, campaign, 3, "marketing")

    async with worker(kafka, app):
        # The response first: it waits (retried) until its key arrives.
        await produce(kafka, response, response, published(issued, respondent, 1, "marketing"))
        await eventually_async(
            lambda: bool(campaign_leads(app, campaign)), what="the lead", within=60
        )
        await asyncio.sleep(1)  # time for the second delivery to be (not) acted upon

    (lead,) = campaign_leads(app, campaign)
    assert (lead.family_name, lead.email, lead.country, lead.company_size) == (
        "Hopper",
        "grace@example.com",
        "US",
        40,
    )
    assert (lead.campaign_id, lead.response_id) == (campaign, respondent)
    assert [r.rule_id for r in lead.reasons] == ["campaign", "has-email", "campaign-response"]


async def test_interactions_with_the_customer_score_its_open_lead(
    app: SalesApplication, kafka: KafkaSettings
) -> None:
    customer = uuid4()
    details = LeadDetails(family_name="Lovelace", customer_id=customer)
    lead = app.capture_lead(Command(uuid4(), "f", "bob"), details).value
    contacted = CustomerContactedV2(
        customer_id=customer,
        interaction_id=uuid4(),
        channel="email",
        direction="inbound",
        summary=seal("Asked for a quote", key=new_key(), subject=customer),
        actor="carol",
        occurred_at=datetime.now(UTC),
    )

    async with worker(kafka, app):
        await produce(kafka, published(contacted, customer, 4, "contacts"))
        await eventually_async(
            lambda: app.get_lead(lead.id).interactions != {}, what="the interaction", within=60
        )

    assert [r.rule_id for r in app.get_lead(lead.id).reasons] == ["inbound-contact"]
