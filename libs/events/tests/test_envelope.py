"""The envelope builder: every attribute filled as the contract's golden examples show."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from crm_events import build_event, registry
from crm_events.catalog import PACKAGE_ROOT
from crm_events.personal import PersonalDataKeyIssued, encode_key, new_key

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "path", sorted((PACKAGE_ROOT / "examples").glob("*.json")), ids=lambda p: p.stem
)
def test_the_builder_makes_each_golden_example_from_its_payload(path: Path) -> None:
    golden = registry.parse(path.read_bytes())

    built = build_event(
        golden.data,
        aggregate_id=golden.aggregateid,
        aggregate_version=golden.aggregateversion,
        source_service=golden.source.removeprefix("/crm/"),
        time=golden.time,
        event_id=golden.id,
        correlation_id=golden.correlationid,
        causation_id=golden.causationid,
        actor=golden.actor,
        traceparent=golden.traceparent,
        tracestate=golden.tracestate,
    )

    assert built == golden
    assert registry.parse(built.to_json()) == golden


def test_a_new_event_comes_from_its_payload_s_service_now_and_starts_its_correlation() -> None:
    subject = uuid4()
    data = PersonalDataKeyIssued(subject_id=subject, key=encode_key(new_key()))
    before = datetime.now(UTC)

    event = build_event(data, aggregate_id=subject)

    assert event.source == f"/crm/{data.source_service}"
    assert event.subject == event.aggregateid == str(subject)
    assert (event.aggregatetype, event.aggregateversion) == (data.aggregate_type, 1)
    assert before <= event.time <= datetime.now(UTC)
    assert event.correlationid == str(event.id) and event.causationid is None
    assert event.id != build_event(data, aggregate_id=subject).id
    assert event.data.topic() == PersonalDataKeyIssued.topic()
