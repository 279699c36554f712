"""Kafka clients are built safe (acks=all, idempotent) and topics are created idempotently."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from aiokafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError

from crm_platform import kafka
from crm_platform.settings import KafkaSettings

pytestmark = pytest.mark.unit

SETTINGS = KafkaSettings(bootstrap_servers="kafka-1:9092,kafka-2:9092")


def recorder(calls: list[tuple[Any, ...]]) -> Any:
    def build(*args: Any, **kwargs: Any) -> SimpleNamespace:
        calls.append((args, kwargs))
        return SimpleNamespace()

    return build


def test_brokers_and_producers_wait_for_all_replicas_idempotently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(kafka, "KafkaBroker", recorder(calls))
    monkeypatch.setattr(kafka, "AIOKafkaProducer", recorder(calls))

    kafka.make_broker(SETTINGS, client_id="svc")
    kafka.make_producer(SETTINGS, linger_ms=1)

    (broker_args, broker_kwargs), (_, producer_kwargs) = calls
    assert broker_args == (SETTINGS.bootstrap_servers,)
    assert broker_kwargs["client_id"] == "svc"
    assert producer_kwargs["bootstrap_servers"] == SETTINGS.bootstrap_servers
    assert producer_kwargs["linger_ms"] == 1
    for options in (broker_kwargs, producer_kwargs):
        assert options["acks"] == "all"
        assert options["enable_idempotence"] is True


def test_declared_topics_get_three_partitions() -> None:
    topic = kafka.declared("crm.contacts.customer.v1")
    assert (topic.name, topic.num_partitions, topic.declare) == (
        "crm.contacts.customer.v1",
        3,
        True,
    )


class FakeAdmin:
    """The admin client's answers: existing topics, and an error code per topic it creates."""

    existing: ClassVar[set[str]] = set()
    errors: ClassVar[dict[str, int]] = {}
    created: ClassVar[list[Any]] = []
    closed: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        assert options == {"bootstrap_servers": SETTINGS.bootstrap_servers}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        FakeAdmin.closed = True

    async def list_topics(self) -> list[str]:
        return sorted(self.existing)

    async def create_topics(self, topics: list[Any]) -> Any:
        FakeAdmin.created += topics
        results = [
            {"topic": t.name, "error_code": self.errors.get(t.name, 0), "error_message": None}
            for t in topics
        ]
        return SimpleNamespace(to_object=lambda: {"topic_errors": results})


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> type[FakeAdmin]:
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", FakeAdmin)
    FakeAdmin.existing, FakeAdmin.errors, FakeAdmin.created, FakeAdmin.closed = set(), {}, [], False
    return FakeAdmin


async def test_ensure_topics_creates_only_the_missing_ones(admin: type[FakeAdmin]) -> None:
    admin.existing = {"a"}
    await kafka.ensure_topics(SETTINGS.bootstrap_servers, ["a", "b", "c", "b"], partitions=6)
    assert [(t.name, t.num_partitions, t.replication_factor) for t in admin.created] == [
        ("b", 6, 1),
        ("c", 6, 1),
    ]
    assert admin.closed

    admin.created, admin.existing = [], {"a", "b", "c"}
    await kafka.ensure_topics(SETTINGS.bootstrap_servers, ["a", "b"])
    assert admin.created == []


async def test_a_topic_created_concurrently_by_someone_else_is_fine(
    admin: type[FakeAdmin],
) -> None:
    admin.errors = {"b": TopicAlreadyExistsError.errno}
    await kafka.ensure_topics(SETTINGS.bootstrap_servers, ["b"])
    assert [t.num_partitions for t in admin.created] == [3]


async def test_any_other_refusal_of_the_cluster_is_raised(admin: type[FakeAdmin]) -> None:
    admin.errors = {"b": InvalidReplicationFactorError.errno}
    with pytest.raises(InvalidReplicationFactorError, match="cannot create b"):
        await kafka.ensure_topics(SETTINGS.bootstrap_servers, ["b"], replication=3)
    assert admin.closed
