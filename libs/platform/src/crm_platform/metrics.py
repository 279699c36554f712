"""Prometheus metrics of every process, in the default registry (one process, one registry).

The names are a contract with the dashboards and alerts (deploy/, docker-compose.yml): rename
nothing without them. An api serves them on its HTTP port at ``/metrics``; a relay or a worker
on ``CRM_METRICS_PORT``, beside its health (``liveness.HealthServer``). Each process exports only
what it does, so an api has no consumer series and a worker no HTTP ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from aiokafka import TopicPartition
from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "crm_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "crm_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response.",
    ["service", "method", "route"],
)
RELAY_PUBLISHED = Counter(
    "crm_relay_published_total",
    "Integration events the relay published and Kafka acknowledged.",
    ["service", "topic"],
)
RELAY_LAG = Gauge(
    "crm_relay_lag_events",
    "Notifications recorded in the event store but not yet published.",
    ["service"],
)
RELAY_ACTIVE = Gauge(
    "crm_relay_active",
    "1 while this relay replica holds its lock and publishes, 0 on standby.",
    ["service"],
)
CONSUMER_EVENTS = Counter(
    "crm_consumer_events_total",
    "Messages a consumer group handled: applied, duplicate (skipped), dead_lettered, or"
    " failed (its batch is delivered again).",
    ["group", "topic", "outcome"],
)
CONSUMER_PROCESSING = Histogram(
    "crm_consumer_processing_seconds",
    "Time of one handler call (one event, or one batch of a batch consumer).",
    ["group", "topic"],
)
CONSUMER_LAG = Gauge(
    "crm_consumer_lag_messages",
    "Messages of a partition after the last one the group handled (end offset minus position).",
    ["group", "topic", "partition"],
)
DEAD_LETTERS = Counter(
    "crm_dead_letters_total",
    "Messages a consumer group put on its dead-letter topic, by the topic they came from.",
    ["group", "topic"],
)
READ_MODEL_FRESHNESS = Gauge(
    "crm_read_model_freshness_seconds",
    "Age of the newest event applied to a read model (now minus the event's time).",
    ["model"],
)

QUARANTINED = Counter(
    "crm_quarantined_total",
    "Records a loop set aside in its service's quarantine (each failure counts once).",
    ["service", "loop"],
)
QUARANTINE_OPEN = Gauge(
    "crm_quarantine_open",
    "Quarantine entries not resolved yet, per loop.",
    ["service", "loop"],
)
LOOP_FAILURES = Counter(
    "crm_loop_failures_total",
    "Failed steps of a background loop: transient (a server is away) or unexpected (a bug).",
    ["service", "loop", "kind"],
)
LOOP_PROGRESS = Gauge(
    "crm_loop_last_progress_timestamp_seconds",
    "When a background loop last completed a step (Unix time).",
    ["service", "loop"],
)
PROJECTION_LAG = Gauge(
    "crm_projection_lag_notifications",
    "Notifications of the service's event store a local projection has not applied yet.",
    ["service", "projection"],
)

_newest_applied: dict[str, float] = {}


def read_model_applied(model: str, event_time: datetime) -> None:
    """Tell the freshness gauge that ``model`` applied an event of ``event_time`` (aware).

    The gauge is the age at scrape time, so a model that stops applying events ages visibly.
    Partitions are applied out of step: only a newer time moves the newest one.
    """
    stamp = event_time.timestamp()
    if model not in _newest_applied:
        READ_MODEL_FRESHNESS.labels(model).set_function(
            lambda: time.time() - _newest_applied[model]
        )
    _newest_applied[model] = max(stamp, _newest_applied.get(model, stamp))


def consumer_lag(
    group: str, consumer: object, positions: Iterable[tuple[str, int, int]]
) -> dict[tuple[str, int], int]:
    """Refresh the lag of ``group`` after handling records at ``(topic, partition, offset)``;
    the lag of each partition measured.

    The end offset is the partition's high watermark the aiokafka consumer learnt with its last
    fetch, so this costs no request. Consumers without one (FastStream's test broker) are skipped.
    """
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:
        return {}
    lags = {}
    for topic, partition, offset in positions:
        end = highwater(TopicPartition(topic, partition))
        if end is not None:
            lags[(topic, partition)] = lag = max(0, end - offset - 1)
            CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)
    return lags
