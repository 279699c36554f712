"""The application on real PostgreSQL, learning with tracking records and sending through the
real SMTP sink; restarted in between, as the worker would be."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Tracking

from crm_events import Event
from crm_events.contacts import ConsentGranted, CustomerRegisteredV2
from crm_events.personal import new_key, seal
from crm_marketing.application.mailer import Mailer, SmtpSender
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.bootstrap import build_application
from crm_marketing.domain import CampaignChannel, EmailContent, Status, message_id
from crm_marketing.messaging import learn
from crm_platform.privacy import PostgresKeyring

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
LINKS = TrackingLinks("https://m.example", TokenSigner(b"i" * 32))


def event(data: Any, version: int) -> Event[Any]:
    return Event[type(data)](  # type: ignore[misc]
        id=uuid4(),
        type=data.event_type,
        source="/crm/contacts",
        subject=str(data.customer_id),
        time=NOW,
        dataschema=data.dataschema(),
        schemaversion=data.schema_version,
        aggregatetype=data.aggregate_type,
        aggregateid=str(data.customer_id),
        aggregateversion=version,
        correlationid=str(uuid4()),
        data=data,
    )


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
        learn(app, keyring, event(data, offset + 1), position)
        learn(app, keyring, event(data, offset + 1), position)  # redelivered: no effect
    assert app.profile(customer).version == 3  # started, details, consent

    segment = app.define_segment(
        uuid4(), name="All", rule=None, defined_by="it", request_fingerprint="f"
    ).value
    app.change_membership(segment.id, customer, member=True, expected_version=None)
    campaign_id = uuid4()
    content = EmailContent(
        "Hello {{ given_name }}", "<p>Dear {{ given_name }}</p>", "Dear {{ given_name }}", {}, ()
    )
    app.draft_campaign(
        campaign_id,
        name="IT",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment.id],
        content=content,
        agents=[],
        created_by="it",
        request_fingerprint="f",
    )
    app.launch_campaign(
        campaign_id, expected_version=None, command_id=uuid4(), request_fingerprint="f"
    )
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
