"""The application on real PostgreSQL, learning with tracking records and sending through the
real SMTP sink; restarted in between, as the worker would be. The mailer's loop sets aside a
message it cannot send and goes on with the others, and waits for an SMTP server that is away."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from crm_events import build_event
from crm_events.contacts import ConsentGranted, CustomerRegisteredV2
from crm_events.personal import new_key, seal
from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import MAILER, Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.bootstrap import build_application
from crm_marketing.domain import (
    AudienceProfile,
    EmailContent,
    Status,
    message_id,
)
from crm_marketing.domain.profile import ContactDetails
from crm_marketing.messaging import learn
from crm_platform.liveness import Registry
from crm_platform.loops import LoopState
from crm_platform.mail import SmtpServer as SmtpSender
from crm_platform.privacy import PostgresKeyring
from crm_platform.testing import eventually_async

from .. import feed

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
LINKS = TrackingLinks("https://m.example", TokenSigner(b"i" * 32))


def test_learn_launch_send_and_restart(postgres, smtp_sink) -> None:
    keyring = PostgresKeyring(postgres.dsn(postgres.database))
    app = build_application(postgres)
    address = f"ada-{uuid4().hex[:8]}@example.org"
    customer, key = uuid4(), new_key()
    keyring.store(customer, key)
    sealed = lambda value: seal(value, key=key, subject=customer)  # noqa: E731
    registered = CustomerRegisteredV2(
        customer_id=customer,
        given_name=sealed("Ada"),
        family_name=sealed("Lovelace"),
        emails=sealed([{"address": address, "type": "work", "primary": True}]),
        origin="api",
        registered_at=NOW,
    )
    consent = ConsentGranted(
        customer_id=customer,
        decision_id=uuid4(),
        channel="email",
        purpose="marketing",
        source="web_form",
        decided_at=NOW,
    )
    for offset, data in enumerate((registered, consent)):
        position = Tracking("it|crm.contacts.customer.v2|0", offset + 1)
        for _ in range(2):  # redelivered: no effect
            event = build_event(data, aggregate_id=customer, aggregate_version=offset + 1, time=NOW)
            learn(app, keyring, event, position)
    assert app.profile(customer).version == 3  # started, details, consent

    content = EmailContent(
        "Hello {{ given_name }}", "<p>Dear {{ given_name }}</p>", "Dear {{ given_name }}", {}, ()
    )
    campaign_id = feed.launch_to(app, customer, now=NOW, content=content)
    app.close()

    # A fresh process: the queued message is found in the store and sent through real SMTP.
    app = build_application(postgres)
    sender = SmtpSender(smtp_sink.host, smtp_sink.port)
    mailer = Mailer(app, sender, LINKS, "news@shop.example", messages_per_second=50)
    assert asyncio.run(mailer.step()) == 1
    [received] = smtp_sink.wait_for(address)
    assert received["Subject"] == "Hello Ada"
    assert str(received["List-Unsubscribe"]).strip().startswith("<https://m.example/t/u/")
    assert received["Message-ID"] == f"<{message_id(campaign_id, customer)}@shop.example>"
    html = received.get_body(("html",)).get_content()
    assert "/t/o/" in html and "Dear Ada" in html
    assert app.campaign(campaign_id).status == Status.COMPLETED
    app.close()

    app = build_application(postgres)  # restarted again: nothing is sent twice
    assert asyncio.run(Mailer(app, sender, LINKS, "news@shop.example").step()) == 0
    assert len(smtp_sink.messages_to(address)) == 1
    app.close()
    keyring.close()


# --- the mailer's loop --------------------------------------------------------------------------


def reachable(app: MarketingApplication, email: str) -> UUID:
    """A consenting profile saved straight through the aggregate (the consumers would refuse a
    line break in an address; the mailer must survive one all the same)."""
    profile = AudienceProfile(id=uuid4())
    profile.learn_details(ContactDetails(email=email, name={"given_name": "Al"}), registered_at=NOW)
    profile.decide_consent("email", "marketing", True, NOW)
    app.save(profile)
    return profile.id


def launch_to(app: MarketingApplication, *customers: UUID) -> UUID:
    return feed.launch_to(
        app,
        *customers,
        now=NOW,
        content=EmailContent("Hi {{ given_name }}", "<p>Hi</p>", "Hi", {}, ()),
    )


async def test_a_message_the_mailer_cannot_send_is_quarantined_and_the_others_go_on(
    application, smtp_sink
) -> None:
    good = f"good-{uuid4().hex[:10]}@example.org"
    poison = reachable(application, "bad\n@example.org")
    customer = reachable(application, good)
    campaign_id = launch_to(application, poison, customer)
    mailer = Mailer(
        application, SmtpSender(smtp_sink.host, smtp_sink.port), LINKS, "n@shop.example"
    )
    stop, registry = asyncio.Event(), Registry()
    loop = asyncio.create_task(mailer.loop().run(stop, registry=registry))

    await eventually_async(lambda: smtp_sink.messages_to(good), what="the good message")
    await eventually_async(lambda: mailer.queue.quarantine.keys(MAILER), what="the poison held")
    # The loop reports "running" once the step that sent and set aside has returned.
    report = await eventually_async(
        lambda: (r := registry.reports()[f"loop:{MAILER}"]).state == "running" and r,
        what="the mailer running",
    )
    assert report.alive
    held = message_id(campaign_id, poison)
    [entry] = mailer.queue.quarantine.list(loop=MAILER).items
    assert (entry.record_key, entry.state, entry.error_type) == (
        str(held),
        "held",
        "builtins.ValueError",
    )
    assert application.message(held).status == "queued"

    # Corrected, then released by an operator: sent on the loop's next round.
    fixed = f"fixed-{uuid4().hex[:10]}@example.org"
    profile = application.profile(poison)
    profile.learn_details(ContactDetails(email=fixed, name={"given_name": "Al"}))
    application.save(profile)
    mailer.queue.quarantine.release(entry.id)
    await eventually_async(lambda: smtp_sink.messages_to(fixed), what="the fixed message")
    await eventually_async(
        lambda: mailer.queue.quarantine.get(entry.id).state == "resolved", what="entry resolved"
    )
    stop.set()
    await asyncio.wait_for(loop, timeout=10)
    assert loop.exception() is None
    assert application.campaign(campaign_id).status == Status.COMPLETED
    assert len(smtp_sink.messages_to(good)) == 1


def state_of(registry: Registry) -> str | None:
    report = registry.reports().get(f"loop:{MAILER}")
    return None if report is None else report.state


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_smtp_server_away_is_waited_out_and_nothing_is_quarantined(
    application, smtp_sink
) -> None:
    address = f"patient-{uuid4().hex[:10]}@example.org"
    launch_to(application, reachable(application, address))
    away = SmtpSender("127.0.0.1", closed_port(), timeout=2.0)
    mailer = Mailer(application, away, LINKS, "n@shop.example")
    stop, registry = asyncio.Event(), Registry()
    loop = asyncio.create_task(mailer.loop().run(stop, registry=registry))

    await eventually_async(
        lambda: state_of(registry) == LoopState.WAITING, what="the mailer waiting"
    )
    assert mailer.queue.quarantine.keys(MAILER) == []
    mailer.sender = SmtpSender(smtp_sink.host, smtp_sink.port)  # the server is back
    await eventually_async(lambda: smtp_sink.messages_to(address), what="the message")
    await eventually_async(
        lambda: state_of(registry) == LoopState.RUNNING, what="the mailer running"
    )
    stop.set()
    await asyncio.wait_for(loop, timeout=10)
    assert mailer.queue.quarantine.list(loop=MAILER).items == []
