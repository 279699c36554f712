"""crm-lag-exporter's arithmetic, group selection and series, without a broker."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError, KafkaConnectionError
from prometheus_client import CollectorRegistry, generate_latest

from crm_platform.failures import is_transient
from crm_platform.lag_exporter import LagCollector, LagExporter, LagExporterSettings, lags
from crm_platform.settings import KafkaSettings

pytestmark = pytest.mark.unit
A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


def test_lag_is_the_end_offset_minus_the_committed_one_never_negative():
    committed = {"g": {A0: 3, A1: 10, B0: -1}, "h": {A0: 5}}
    measured = lags(committed, {A0: 7, A1: 9})
    assert [(m.group, m.topic, m.partition, m.lag) for m in measured] == [
        ("g", "a", 0, 4),
        ("g", "a", 1, 0),  # committed after the end offsets were read
        ("h", "a", 0, 2),
    ]  # b-0: nothing committed; no end offset either (a deleted topic)


@pytest.mark.parametrize(
    ("prefix", "group", "selected"),
    [
        ("", "marketing.audience", True),
        ("", "analytics.customer-360", True),
        ("", "sales.pipeline.keys", True),
        ("", "service-desk.anything", True),
        ("", "test-846edbe730.sales.pipeline", False),  # another environment's prefix
        ("", "my-system", False),  # a subscriber of somebody else
        ("e2e-1.", "e2e-1.contacts.lead-conversions", True),
        ("e2e-1.", "contacts.lead-conversions", False),
    ],
)
def test_only_the_crm_groups_of_this_environment_are_measured(prefix, group, selected):
    exporter = LagExporter(KafkaSettings(group_prefix=prefix), LagExporterSettings())
    assert exporter.selects(group) is selected


def test_the_pattern_can_be_narrowed():
    exporter = LagExporter(KafkaSettings(), LagExporterSettings(groups=r"analytics\..+"))
    assert exporter.selects("analytics.metrics") and not exporter.selects(
        "marketing.personal-data-keys"
    )


def test_series_per_partition_and_per_group_follow_the_last_snapshot():
    collector, registry = LagCollector(), CollectorRegistry()
    registry.register(collector)
    collector.snapshot = lags({"g": {A0: 1, A1: 2}, "h": {B0: 0}}, {A0: 4, A1: 2, B0: 5})
    text = generate_latest(registry).decode()
    assert 'crm_consumer_group_lag{group="g",partition="0",topic="a"} 3.0' in text
    assert 'crm_consumer_group_lag_total{group="g"} 3.0' in text
    assert 'crm_consumer_group_lag_total{group="h"} 5.0' in text
    collector.snapshot = lags({"h": {B0: 5}}, {B0: 5})
    text = generate_latest(registry).decode()
    assert 'group="g"' not in text, "a group that disappeared leaves no stale series"


def test_a_fresh_or_absent_broker_is_waited_out_not_fatal():
    # The platform's loop runner waits these out with backoff (crm_platform.loops).
    assert is_transient(GroupCoordinatorNotAvailableError())
    assert is_transient(KafkaConnectionError())
