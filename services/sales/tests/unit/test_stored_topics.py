"""Events stored before the sales areas became packages name their classes by the old modules
(``crm_sales.domain.leads:Lead.Created``); they must still be read back, receipts included."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from crm_platform.commands import CommandReceipt
from crm_sales.application import SalesApplication
from crm_sales.commerce.domain.billing import InvoiceSeries
from crm_sales.pipeline.domain.leads import Lead
from crm_sales.pipeline.domain.pipelines import DEFAULT_STAGES, Pipeline
from crm_sales.stored_topics import MOVED

from .test_pipeline_application import command

pytestmark = pytest.mark.unit


def as_stored_before(stored: StoredEvent) -> StoredEvent:
    """The event as the sales service stored it before its classes moved."""
    for module, classes in MOVED.items():
        for cls in classes:
            now = get_topic(cls)
            if stored.topic.startswith(f"{now}."):
                before = stored.topic.replace(now, f"{module}:{cls.__qualname__}", 1)
                return replace(stored, topic=before)
    raise AssertionError(f"{stored.topic} was never stored under another topic")


def stored_events(app: SalesApplication, record_id: UUID) -> list[StoredEvent]:
    return list(app.recorder.select_events(record_id))


def test_every_old_topic_resolves_to_the_class_as_it_is_now() -> None:
    for module, classes in MOVED.items():
        for cls in classes:
            assert resolve_topic(f"{module}:{cls.__qualname__}") is cls
    assert resolve_topic("crm_sales.domain.leads:Lead.Captured") is Lead.Captured
    assert resolve_topic("crm_sales.domain.billing:InvoiceSeries") is InvoiceSeries
    assert resolve_topic("crm_sales.domain.pipeline_receipts:CommandReceipt") is CommandReceipt
    issued = "crm_sales.domain.pipeline_receipts:CommandReceipt.Issued"
    assert resolve_topic(issued) is CommandReceipt.Issued


def test_a_record_and_its_receipt_stored_under_the_old_topics_are_read_back() -> None:
    define = command()
    before = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    after = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        pipeline = before.define_pipeline(define, name="Enterprise", stages=list(DEFAULT_STAGES))
        record_id = pipeline.value.id
        old = [
            as_stored_before(e)
            for e in stored_events(before, record_id) + stored_events(before, define.command_id)
        ]
        assert {e.topic.partition(":")[0] for e in old} == {
            "crm_sales.domain.pipeline",
            "crm_sales.domain.pipeline_receipts",
        }
        after.recorder.insert_events(old)

        read = after.get_pipeline(record_id)
        retried = after.define_pipeline(define, name="Enterprise", stages=list(DEFAULT_STAGES))

        assert isinstance(read, Pipeline)
        assert (read.name, read.version, read.stages) == ("Enterprise", 1, pipeline.value.stages)
        assert retried.replayed and retried.value.id == record_id
    finally:
        before.close()
        after.close()
