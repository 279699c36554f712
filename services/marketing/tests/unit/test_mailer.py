"""The mailer's work on one message, in memory: what it sends, bounces or skips. Its loop over
the queue (PostgreSQL, the quarantine) is tested on the real servers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import UUID

import pytest

from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.domain import AutomatedSend, send_id
from crm_platform.mail import PermanentFailure

from .test_automation import automated, deliver_at, won

pytestmark = pytest.mark.unit

LINKS = TrackingLinks("https://m.example", TokenSigner(b"m" * 32))


class Sender:
    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.sent: list[EmailMessage] = []
        self.refuse = refuse

    async def deliver(self, message: EmailMessage) -> None:
        if message["To"] in self.refuse:
            raise PermanentFailure("550 no such user")
        self.sent.append(message)


def queued(application: MarketingApplication, feed, email: str = "ada@example.org") -> UUID:  # type: ignore[no-untyped-def]
    """A message queued for a new customer by an automated campaign: its id."""
    customer = feed.register(region="EMEA", email=email)
    feed.consent(customer)
    campaign_id = automated(application, delay=timedelta(0))
    now = datetime.now(UTC)
    event, _ = deliver_at(feed, won(customer, now), now)
    send = application.load("send", AutomatedSend, send_id(campaign_id, event.id))
    assert application.fire_send(send.id, now)
    return send.message_id


def deliver(application: MarketingApplication, sender: Sender, message_id: UUID) -> None:
    mailer = Mailer(application, sender, LINKS, "news@shop.example", messages_per_second=1000)
    asyncio.run(mailer.deliver(message_id))


def test_a_message_is_sent_once(application, feed) -> None:
    message_id = queued(application, feed)
    sender = Sender()

    deliver(application, sender, message_id)
    deliver(application, sender, message_id)  # the queue had not caught up: nothing again

    [mail] = sender.sent
    assert mail["To"] == "ada@example.org"
    assert mail["Message-ID"] == f"<{message_id}@shop.example>"
    message = application.message(message_id)
    assert (message.status, message.version) == ("sent", 2)


def test_a_refused_recipient_is_a_hard_bounce(application, feed) -> None:
    message_id = queued(application, feed, email="gone@example.org")

    deliver(application, Sender(refuse=frozenset({"gone@example.org"})), message_id)

    assert application.message(message_id).status == "bounced"


def test_a_recipient_who_unsubscribed_meanwhile_is_skipped(application, feed) -> None:
    message_id = queued(application, feed)
    assert application.unsubscribe(message_id, one_click=True)
    sender = Sender()

    deliver(application, sender, message_id)

    assert sender.sent == [] and application.message(message_id).status == "skipped"
