"""``CustomerErasureConfirmed``: one contract, published by each service on a topic of its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from crm_events import UnknownEventType, registry
from crm_events.catalog import PACKAGE_ROOT
from crm_events.erasure import (
    CONFIRMATION_TOPICS,
    CONFIRMATIONS,
    CONFIRMING_SERVICES,
    CustomerErasureConfirmed,
    ErasedData,
    ErasureMethod,
    erasure_confirmed,
)

pytestmark = pytest.mark.unit

GOLDEN = json.loads((PACKAGE_ROOT / "examples" / "CustomerErasureConfirmed.v1.json").read_text())


def test_each_service_publishes_on_a_topic_of_its_own() -> None:
    assert CONFIRMATION_TOPICS == tuple(f"crm.{s}.erasure.v1" for s in CONFIRMING_SERVICES)
    assert set(CONFIRMATION_TOPICS) <= set(registry.topics())
    for topic in CONFIRMATION_TOPICS:
        assert [m.event_type for m in registry.models_on(topic)] == ["CustomerErasureConfirmed"]


@pytest.mark.parametrize("service", CONFIRMING_SERVICES)
def test_the_registry_parses_a_confirmation_as_its_producers_model(service: str) -> None:
    event = registry.parse({**GOLDEN, "source": f"/crm/{service}"})

    assert type(event.data) is CONFIRMATIONS[service]
    assert isinstance(event.data, CustomerErasureConfirmed)
    assert event.data.topic() == f"crm.{service}.erasure.v1"


def test_a_confirmation_from_a_service_without_a_topic_is_unknown() -> None:
    with pytest.raises(UnknownEventType, match="/crm/billing"):
        registry.parse({**GOLDEN, "source": "/crm/billing"})


def test_erasure_confirmed_names_the_service_on_its_topic() -> None:
    customer_id, now = uuid4(), datetime.now(UTC)
    erased = [ErasedData(kind="ticket", method=ErasureMethod.KEY_DESTROYED)]

    confirmation = erasure_confirmed(
        "service-desk", customer_id=customer_id, erased=erased, confirmed_at=now
    )

    assert type(confirmation) is CONFIRMATIONS["service-desk"]
    assert (confirmation.service, confirmation.customer_id) == ("service-desk", customer_id)
    assert confirmation.topic() == "crm.service-desk.erasure.v1"
    assert confirmation.erased == erased


def test_every_topic_carries_the_same_schema() -> None:
    from crm_events.schemas import event_schema

    schemas = {json.dumps(event_schema(model), sort_keys=True) for model in CONFIRMATIONS.values()}

    assert len(schemas) == 1
