"""Campaigns: the send rate through SMTP, and audience materialization for 100,000 contacts.

- Send rate: the mailer (render, sign links, send, record the outcome with its tracking record
  on PostgreSQL) through the local SMTP sink, unthrottled, vs raw aiosmtplib sends of the same
  rendered messages to the same server.
- Materialization: ``domain.materialize`` over 100,000 audience profiles (consent, unsubscribes,
  erasure checked per person) vs a bare set comprehension over plain dicts of the same facts.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from uuid import uuid4

import aiosmtplib

from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.bootstrap import MarketingSettings, SmtpSettings
from crm_marketing.domain import (
    AudienceProfile,
    CampaignChannel,
    EmailContent,
    materialize,
    message_id,
)
from crm_marketing.domain.profile import ContactDetails
from crm_platform.eventstore import open_application
from crm_platform.settings import PostgresSettings

from .common import Result, Timer, fresh_database

NOW = datetime.now(UTC)
CONTENT = EmailContent(
    "News for {{ given_name }}",
    "<p>Hello {{ given_name }} {{ family_name }}, <a href=\"{{ link('offer') }}\">offer</a></p>",
    "Hello {{ given_name }}: {{ link('offer') }}",
    {"offer": "https://shop.example/offer"},
    ("offer",),
)


def profile(i: int, *, consent: bool, unsubscribed: bool = False) -> AudienceProfile:
    person = AudienceProfile(id=uuid4())
    details = ContactDetails(
        email=f"bench{i}@example.org", name={"given_name": f"P{i}", "family_name": "Bench"}
    )
    person.learn_details(details, registered_at=NOW)
    person.decide_consent("email", "marketing", consent, NOW)
    if unsubscribed:
        person.unsubscribe("email", NOW)
    return person


def send_rate(messages: int = 300) -> Result:
    with fresh_database("campaign") as database:
        app: MarketingApplication = open_application(
            MarketingApplication, PostgresSettings(), database
        )
        people = [profile(i, consent=True) for i in range(messages)]
        app.save(*people)
        segment = app.define_segment(
            uuid4(), name="All", rule=None, defined_by="bench", request_fingerprint="f"
        ).value
        for person in people:
            segment.add_by_hand(person.id, NOW)
        app.save(segment)
        campaign_id = uuid4()
        app.draft_campaign(
            campaign_id,
            name="Bench",
            channel=CampaignChannel.EMAIL,
            purpose="marketing",
            segment_ids=[segment.id],
            content=CONTENT,
            agents=[],
            created_by="bench",
            request_fingerprint="f",
        )
        app.launch_campaign(
            campaign_id, expected_version=None, command_id=uuid4(), request_fingerprint="f"
        )
        smtp = SmtpSettings()
        links = TrackingLinks("https://m.example", TokenSigner(b"b" * 32))
        mailer = Mailer(
            app, smtp.sender(), links, MarketingSettings().from_address, messages_per_second=1e9
        )
        campaign = app.campaign(campaign_id)
        composed = [
            mailer.compose(app.message(message_id(campaign_id, p.id)), campaign, p) for p in people
        ]
        ours, raw = Timer(), Timer()

        async def drain() -> None:
            while await mailer.step():
                pass

        async def raw_sends() -> None:
            for message in composed:
                await aiosmtplib.send(message, hostname=smtp.host, port=smtp.port)

        with ours.measure():
            asyncio.run(drain())
        with raw.measure():
            asyncio.run(raw_sends())
        app.close()
    return Result(
        "campaign e-mails sent through SMTP",
        messages / ours.seconds,
        messages / raw.seconds,
        "msgs/s",
    )


def materialization(contacts: int = 100_000) -> Result:
    rng = random.Random(7)
    people = [
        profile(i, consent=rng.random() < 0.7, unsubscribed=rng.random() < 0.1)
        for i in range(contacts)
    ]
    by_id = {p.id: p for p in people}
    plain = {
        p.id: {
            "consent": p.consents[("email", "marketing")][0],
            "unsubscribed": bool(p.unsubscribed),
        }
        for p in people
    }
    ours, raw = Timer(), Timer()
    with ours.measure():
        audience = materialize(by_id, by_id, channel="email", purpose="marketing")
    with raw.measure():
        baseline = sorted(c for c, f in plain.items() if f["consent"] and not f["unsubscribed"])
    assert len(audience.recipients) == len(baseline)
    return Result(
        "audience materialization (100,000 contacts)",
        contacts / ours.seconds,
        contacts / raw.seconds,
        "contacts/s",
    )


def run() -> list[Result]:
    return [send_rate(), materialization()]
