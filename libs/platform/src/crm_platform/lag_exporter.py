"""``crm-lag-exporter``: the lag of every CRM consumer group, measured from outside the consumers.

A consumer exports its own lag (``crm_consumer_lag_messages``) only while it runs and handles
records; a dead or stuck consumer exports nothing, and its lag is then what matters. This process
asks Kafka instead, every ``CRM_LAG_EXPORTER_INTERVAL_SECONDS`` (5): it lists the consumer
groups, keeps the CRM's, reads each one's committed offsets (admin client) and the end offsets of
those partitions (a consumer without a group: aiokafka's admin client has no ListOffsets), and
serves on ``CRM_METRICS_PORT``, beside ``/healthz`` and ``/readyz``:

    crm_consumer_group_lag{group,topic,partition}   end offset minus the committed offset
    crm_consumer_group_lag_total{group}              the sum over the group's partitions

A group is the CRM's when its name is ``CRM_KAFKA_GROUP_PREFIX`` followed by a name matching
``CRM_LAG_EXPORTER_GROUPS`` (a regular expression; default: the CRM's two spellings,
``crm-<service>-<purpose>`` and ``<service>.<purpose>``). Only partitions on which a group has
committed an offset are measured. The series describe the last successful refresh; a refresh
that fails (a fresh Kafka without ``__consumer_offsets`` yet answers
GroupCoordinatorNotAvailableError, a broker is down) is retried with backoff by the platform's
loop runner and never ends the process; ``/readyz`` says so meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.core import REGISTRY as METRICS
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .health import kafka_check
from .kafka import connection
from .loops import Loop
from .relay import stop_on_signals
from .runtime import run_async
from .settings import KafkaSettings

# The consumer groups the services name (scripts/generate-kafka-topics.py finds them all, and
# tests/deploy checks that this pattern matches each of them).
CRM_GROUPS = r"crm-.+|(contacts|sales|marketing|service-desk|analytics)\..+"


class LagExporterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_LAG_EXPORTER_", extra="ignore")

    interval_seconds: float = Field(default=5.0, gt=0)
    groups: str = CRM_GROUPS


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    lag: int


def lags(
    committed: dict[str, dict[TopicPartition, int]], ends: dict[TopicPartition, int]
) -> list[PartitionLag]:
    """Per group and partition, the end offset minus the committed offset (never below 0: the
    end offsets are read after the committed ones). Partitions without an end offset (a topic
    deleted meanwhile) or a committed offset (-1) are left out."""
    return [
        PartitionLag(group, tp.topic, tp.partition, max(0, ends[tp] - offset))
        for group, offsets in sorted(committed.items())
        for tp, offset in sorted(offsets.items())
        if offset >= 0 and tp in ends
    ]


class LagCollector(Collector):
    """Serves the last snapshot: groups that disappeared disappear from the series too."""

    def __init__(self) -> None:
        self.snapshot: list[PartitionLag] = []

    def collect(self) -> Iterator[Metric]:
        per_partition = GaugeMetricFamily(
            "crm_consumer_group_lag",
            "Messages of a partition after a consumer group's committed offset, as Kafka says"
            " (crm-lag-exporter: also for a consumer that is not running).",
            labels=["group", "topic", "partition"],
        )
        totals: dict[str, int] = {}
        for item in self.snapshot:
            per_partition.add_metric([item.group, item.topic, str(item.partition)], item.lag)
            totals[item.group] = totals.get(item.group, 0) + item.lag
        per_group = GaugeMetricFamily(
            "crm_consumer_group_lag_total",
            "A consumer group's lag summed over its partitions (crm-lag-exporter).",
            labels=["group"],
        )
        for group, total in totals.items():
            per_group.add_metric([group], total)
        yield per_partition
        yield per_group


class LagExporter:
    def __init__(self, kafka: KafkaSettings, settings: LagExporterSettings) -> None:
        self.kafka = kafka
        self.pattern = re.compile(settings.groups)
        self.collector = LagCollector()
        self.admin: AIOKafkaAdminClient | None = None
        self.consumer: AIOKafkaConsumer | None = None

    def selects(self, group: str) -> bool:
        prefix = self.kafka.group_prefix
        return group.startswith(prefix) and self.pattern.fullmatch(group[len(prefix) :]) is not None

    async def start(self) -> None:
        """Connect (retried by the loop while the broker is away)."""
        admin = AIOKafkaAdminClient(**connection(self.kafka))
        consumer = AIOKafkaConsumer(**connection(self.kafka), enable_auto_commit=False)
        self.admin, self.consumer = admin, consumer
        try:
            await admin.start()
            await consumer.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Let go of both clients (a broken connection's errors do not matter any more)."""
        admin, consumer = self.admin, self.consumer
        self.admin = self.consumer = None
        await asyncio.gather(
            admin.close() if admin else asyncio.sleep(0),
            consumer.stop() if consumer else asyncio.sleep(0),
            return_exceptions=True,
        )

    async def refresh(self) -> None:
        """One measurement of every CRM group; the series change only when it succeeds."""
        assert self.admin is not None and self.consumer is not None
        listed = await self.admin.list_consumer_groups()
        groups = sorted({group for group, *_ in listed if self.selects(group)})
        fetched = await asyncio.gather(
            *(self.admin.list_consumer_group_offsets(group) for group in groups)
        )
        existing = set(await self.admin.list_topics())
        committed = {
            group: {tp: meta.offset for tp, meta in offsets.items() if tp.topic in existing}
            for group, offsets in zip(groups, fetched, strict=True)
        }
        partitions = sorted({tp for offsets in committed.values() for tp in offsets})
        ends = await self.consumer.end_offsets(partitions) if partitions else {}
        self.collector.snapshot = lags(committed, ends)

    def loop(self, settings: LagExporterSettings) -> Loop:
        return Loop(
            "consumer-group-lag",
            self.refresh,
            interval=settings.interval_seconds,
            backoff=1.0,
            max_backoff=10.0,  # a cheap request: back soon after the broker is
            setup=self.start,
            stall_after=120.0,
        )


async def export(kafka: KafkaSettings, settings: LagExporterSettings) -> None:
    """Refresh until SIGTERM or SIGINT."""
    exporter = LagExporter(kafka, settings)
    METRICS.register(exporter.collector)
    stop = stop_on_signals()
    try:
        await exporter.loop(settings).run(stop, service="platform")
    finally:
        await exporter.close()
        METRICS.unregister(exporter.collector)


def main() -> None:
    kafka, settings = KafkaSettings(), LagExporterSettings()
    run_async(
        "platform",
        "lag-exporter",
        lambda: export(kafka, settings),
        readiness={"kafka": kafka_check(kafka)},
    )
