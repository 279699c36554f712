from __future__ import annotations

from typing import Any

import pytest

from crm_events import registry
from crm_events.contacts import CustomerErased
from crm_marketing.application import MarketingApplication
from crm_marketing.contracts import TOPICS, translate

from .conftest import NOW

pytestmark = pytest.mark.unit


def published(application: MarketingApplication) -> list[Any]:
    """What the relay would publish: stored events decoded without opening personal data."""
    events = []
    for notification in application.recorder.select_notifications(start=1, limit=10_000):
        domain_event, metadata = application.mapper.decode_with_metadata(notification)
        if (event := translate(domain_event, metadata)) is not None:
            events.append(event)
    return events


def test_an_erased_profile_confirms_the_erasure_once(application, feed) -> None:
    customer = feed.register()
    erased = feed.event(CustomerErased(customer_id=customer, erased_at=NOW), customer)
    feed.deliver(erased)
    feed.deliver(erased)  # republished by contacts' relay: another position, the same event

    [confirmed] = [e for e in published(application) if e.type == "CustomerErasureConfirmed"]
    assert confirmed.data.topic() == "crm.marketing.erasure.v1" and confirmed.data.topic() in TOPICS
    assert (confirmed.data.customer_id, confirmed.data.service) == (customer, "marketing")
    assert {d.kind for d in confirmed.data.erased} == {"audience_profile", "segment_membership"}
    assert registry.parse(confirmed.to_json()) == confirmed
