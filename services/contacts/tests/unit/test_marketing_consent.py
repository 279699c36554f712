"""Marketing's unsubscribes and "do not call" outcomes withdraw the person's consent, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from prometheus_client import REGISTRY

from crm_contacts.application import ContactsApplication
from crm_contacts.contracts import translate
from crm_contacts.messaging.consents import record_withdrawal
from crm_events import Event, EventData, build_event
from crm_events.contacts import ConsentWithdrawn
from crm_events.marketing import CampaignCallRecorded, RecipientUnsubscribed

from .conftest import command

pytestmark = pytest.mark.unit

NOW = datetime.now(UTC).replace(microsecond=0)
_offsets = iter(range(1, 10_000))


def position() -> Tracking:
    return Tracking(
        application_name="contacts.marketing-withdrawals|crm.marketing.campaign.v1|0",
        notification_id=next(_offsets),
    )


def registered(app: ContactsApplication, *consents: tuple[str, datetime]) -> UUID:
    """A person who granted marketing consent on each (channel, when) given."""
    customer_id = uuid4()
    app.register_customer(command(), customer_id, profile={"family_name": "Lovelace"})
    for channel, decided_at in consents:
        app.record_consent(
            customer_id,
            command(),
            channel=channel,
            purpose="marketing",
            status="granted",
            source="web_form",
            evidence=None,
            decided_at=decided_at,
        )
    return customer_id


def unsubscribed(customer_id: UUID, at: datetime = NOW, **extra: Any) -> Event[Any]:
    data = RecipientUnsubscribed(
        message_id=uuid4(),
        campaign_id=uuid4(),
        customer_id=customer_id,
        channel=extra.pop("channel", "email"),
        one_click=True,
        unsubscribed_at=at,
    )
    return build_event(data, aggregate_id=data.message_id, aggregate_version=3)


def called(customer_id: UUID, outcome: str = "do_not_call", at: datetime = NOW) -> Event[Any]:
    data = CampaignCallRecorded(
        campaign_id=uuid4(),
        customer_id=customer_id,
        outcome=outcome,
        agent="mia@example.org",
        called_at=at,
    )
    return build_event(data, aggregate_id=data.campaign_id, aggregate_version=4)


def in_force(app: ContactsApplication, customer_id: UUID) -> dict[str, tuple[str, str]]:
    consents = app.get_consents(customer_id).in_force
    return {c.item.channel: (c.item.status, c.item.source) for c in consents}


def published(app: ContactsApplication) -> list[EventData]:
    return [
        e.data
        for n in app.recorder.select_notifications(1, 1000)
        for e in translate(*app.mapper.decode_with_metadata(n))
    ]


def outcomes(label: str) -> float:
    # The metric's name is what dashboards and alerts read: asserted as they spell it.
    counted = REGISTRY.get_sample_value(
        "crm_contacts_marketing_withdrawals_total", {"outcome": label}
    )
    return counted or 0.0


def test_an_unsubscribe_and_a_do_not_call_withdraw_consent_with_their_source(
    application: ContactsApplication,
) -> None:
    earlier = NOW - timedelta(days=2)
    customer_id = registered(application, ("email", earlier), ("phone", earlier))

    record_withdrawal(application, unsubscribed(customer_id), position())
    record_withdrawal(application, called(customer_id), position())

    assert in_force(application, customer_id) == {
        "email": ("withdrawn", "unsubscribe_link"),
        "phone": ("withdrawn", "call"),
    }
    withdrawn = [d for d in published(application) if isinstance(d, ConsentWithdrawn)]
    assert sorted((d.channel.value, d.source.value, d.purpose.value) for d in withdrawn) == [
        ("email", "unsubscribe_link", "marketing"),
        ("phone", "call", "marketing"),
    ]
    assert {d.decided_at for d in withdrawn} == {NOW}


def test_redelivered_and_republished_events_change_nothing_twice(
    application: ContactsApplication,
) -> None:
    customer_id = registered(application, ("email", NOW - timedelta(days=1)))
    event, at = unsubscribed(customer_id), position()
    record_withdrawal(application, event, at)
    versions = application.get_consents(customer_id).version

    record_withdrawal(application, event, at)  # redelivered: the same position
    record_withdrawal(application, event, position())  # republished: a new position

    assert application.get_consents(customer_id).version == versions
    assert len(application.get_consents(customer_id).history) == 2


def test_a_withdrawal_delivered_late_does_not_override_a_later_grant(
    application: ContactsApplication,
) -> None:
    customer_id = registered(application, ("email", NOW - timedelta(hours=1)))
    record_withdrawal(application, unsubscribed(customer_id, NOW - timedelta(days=1)), position())

    assert in_force(application, customer_id) == {"email": ("granted", "web_form")}
    assert len(application.get_consents(customer_id).history) == 2  # recorded all the same


def test_unknown_erased_and_unrelated_are_skipped_without_failing(
    application: ContactsApplication,
) -> None:
    unknown = outcomes("unknown_customer")
    record_withdrawal(application, unsubscribed(uuid4()), position())
    assert outcomes("unknown_customer") == unknown + 1

    erased = registered(application, ("email", NOW - timedelta(days=1)))
    application.erase_customer(erased, command())
    before = outcomes("erased_customer")
    record_withdrawal(application, called(erased), position())
    assert outcomes("erased_customer") == before + 1

    customer_id = registered(application, ("phone", NOW - timedelta(days=1)))
    record_withdrawal(application, called(customer_id, outcome="interested"), position())
    record_withdrawal(application, unsubscribed(customer_id, channel="pigeon"), position())
    refused = outcomes("refused")
    record_withdrawal(application, called(customer_id, at=NOW + timedelta(days=1)), position())
    assert outcomes("refused") == refused + 1  # a decision in the future is not the person's
    assert in_force(application, customer_id) == {"phone": ("granted", "web_form")}


def test_a_merged_persons_withdrawal_lands_on_the_survivor(
    application: ContactsApplication,
) -> None:
    survivor = registered(application)
    duplicate = registered(application)
    application.merge_customers(
        survivor, command(), duplicate_id=duplicate, duplicate_expected_version=None
    )

    record_withdrawal(application, unsubscribed(duplicate), position())

    assert in_force(application, survivor) == {"email": ("withdrawn", "unsubscribe_link")}
