"""Campaigns: the send rate through SMTP, and audience materialization for 100,000 contacts.

- Send rate: the mailer (render, sign links, send, record the outcome with its tracking record
  on PostgreSQL) through the local SMTP sink, unthrottled, vs raw aiosmtplib sends of the same
  rendered messages to the same server.
- Materialization: a launch's audience of 100,000 contacts (written through the application
  beforehand) read from the audience index (consent, unsubscribes, erasure, segment membership)
  vs a plain SELECT with the same exclusions over plain tables of the same facts.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from uuid import UUID, uuid4

import aiosmtplib
import psycopg

from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.bootstrap import MarketingSettings
from crm_marketing.domain import (
    AudienceProfile,
    CampaignChannel,
    EmailContent,
    message_id,
)
from crm_marketing.domain.profile import ContactDetails
from crm_platform.commands import Command
from crm_platform.eventstore import open_application
from crm_platform.mail import SmtpSettings
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


def command() -> Command:
    return Command(uuid4(), "bench", "bench")


def draft(app: MarketingApplication, segment_id: UUID) -> UUID:
    """The bench's e-mail campaign to one segment, drafted."""
    campaign_id = uuid4()
    app.draft_campaign(
        command(),
        campaign_id,
        name="Bench",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment_id],
        content=CONTENT,
        agents=[],
    )
    return campaign_id


def send_rate(messages: int = 300) -> Result:
    with fresh_database("campaign") as database:
        app: MarketingApplication = open_application(
            MarketingApplication, PostgresSettings(), database
        )
        people = [profile(i, consent=True) for i in range(messages)]
        app.save(*people)
        segment = app.define_segment(command(), uuid4(), name="All", rule=None).value
        for person in people:
            segment.add_by_hand(person.id, NOW)
        app.save(segment)
        campaign_id = draft(app, segment.id)
        app.launch_campaign(command(), campaign_id)
        smtp = SmtpSettings()
        links = TrackingLinks("https://m.example", TokenSigner(b"b" * 32))
        mailer = Mailer(
            app, smtp.server(), links, MarketingSettings().from_address, messages_per_second=1e9
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


def materialization(contacts: int = 100_000, batch: int = 1000) -> Result:
    """Profiles written through the application in batches of ``batch`` (each with its own
    key, personal data sealed) and listed in one static segment; the worker's catch-up of the
    audience index is run (and timed) apart; then the launch's materialization is timed: the
    catch-up of what is left, one query over the index, the audience built in Python."""
    rng = random.Random(7)
    with fresh_database("audience") as database:
        app: MarketingApplication = open_application(
            MarketingApplication, PostgresSettings(), database
        )
        segment = app.define_segment(command(), uuid4(), name="All", rule=None).value
        people: list[AudienceProfile] = []
        for start in range(0, contacts, batch):
            chunk = [
                profile(i, consent=rng.random() < 0.7, unsubscribed=rng.random() < 0.1)
                for i in range(start, min(start + batch, contacts))
            ]
            for person in chunk:
                segment.add_by_hand(person.id, NOW)
            app.save(segment, *chunk)
            people.extend(chunk)
        campaign = app.campaign(draft(app, segment.id))
        follow, ours, raw = Timer(), Timer(), Timer()
        with follow.measure():
            app.catch_up_audience_index()
        with ours.measure():
            audience = app.materialize_audience(campaign, datetime.now(UTC))
        baseline = _plain_select(database, people, segment.id, raw)
        app.close()
    assert set(audience.recipients) == baseline
    print(
        f"  audience of {contacts:,}: index caught up from the log in {follow.seconds:.1f} s,"
        f" materialized in {ours.seconds:.3f} s (plain SELECT {raw.seconds:.3f} s),"
        f" {len(audience.recipients):,} recipients",
        flush=True,
    )
    return Result(
        "audience materialization (100,000 contacts)",
        contacts / ours.seconds,
        contacts / raw.seconds,
        "contacts/s",
    )


def _plain_select(
    database: str, people: list[AudienceProfile], segment_id: UUID, timer: Timer
) -> set[UUID]:
    """The baseline: the same facts in plain columns, the same exclusions in one SELECT."""
    with psycopg.connect(PostgresSettings().dsn(database)) as conn:
        conn.execute(
            "CREATE TABLE plain_people (customer_id uuid PRIMARY KEY, consent boolean NOT NULL,"
            " unsubscribed boolean NOT NULL, erased boolean NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE plain_members (segment_id uuid, customer_id uuid,"
            " PRIMARY KEY (segment_id, customer_id))"
        )
        with conn.cursor() as cursor:
            with cursor.copy("COPY plain_people FROM STDIN") as copy:
                for p in people:
                    granted, _ = p.consents[("email", "marketing")]
                    copy.write_row((p.id, granted, "email" in p.unsubscribed, p.erased))
            with cursor.copy("COPY plain_members FROM STDIN") as copy:
                for p in people:
                    copy.write_row((segment_id, p.id))
        conn.execute("ANALYZE plain_people")
        conn.execute("ANALYZE plain_members")
        conn.commit()
        with timer.measure():
            rows = conn.execute(
                "SELECT m.customer_id FROM plain_members m"
                " JOIN plain_people p ON p.customer_id = m.customer_id"
                " WHERE m.segment_id = %s AND p.consent AND NOT p.unsubscribed AND NOT p.erased",
                (segment_id,),
            ).fetchall()
    return {customer for (customer,) in rows}


def run() -> list[Result]:
    return [send_rate(), materialization()]
