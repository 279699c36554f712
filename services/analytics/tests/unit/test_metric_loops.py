"""The metric loops' failure classification, in memory: a server away is raised and waited out
(never quarantined), one record's fault is quarantined and the others go on; the outbox checks its
entries before sending; the replay's patience retries transient broker errors and then gives up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import (
    GroupCoordinatorNotAvailableError,
    KafkaConnectionError,
    MessageSizeTooLargeError,
)
from pymongo.errors import AutoReconnect

from crm_analytics.application.metrics_scores import LOOP, CustomerScoring, ScoringSettings
from crm_analytics.application.outbox import RELAY_LOOP, MongoOutbox, OutboxRelay, PoisonOutbox
from crm_analytics.application.patience import OutOfPatience, Patience
from crm_analytics.messaging.metrics_loops import kafka_publish
from crm_platform.failures import is_transient
from crm_platform.liveness import Registry
from crm_platform.quarantine import Entry, RecordRef
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 1, tzinfo=UTC)


class Quarantine:
    """Records what is set aside; holds nothing."""

    def __init__(self) -> None:
        self.put_aside: list[tuple[str, str, str]] = []

    def create_table(self) -> None:
        pass

    def open_entries(self, loop: str, keys: list[str]) -> dict[str, Entry]:
        return {}

    def put(self, loop: str, record: RecordRef, error: BaseException) -> int:
        self.put_aside.append((loop, record.key, type(error).__name__))
        return len(self.put_aside)


class Facts:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def all(self, subject: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {"a": {}, "b": {}, "c": {}}  # customers without facts yet: scored as such


class Scores:
    """Fails on customer "b" with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.recorded: list[str] = []

    async def get(self, customer: str) -> None:
        if customer == "b":
            raise self.error

    async def record(self, stored: Any, figures: Any, settings: Any, as_of: Any) -> bool:
        self.recorded.append(figures.customer_id)
        return True


def scoring(facts: Facts, scores: Scores, quarantine: Quarantine) -> CustomerScoring:
    return CustomerScoring(facts, scores, ScoringSettings(), quarantine)  # type: ignore[arg-type]


async def test_a_customer_whose_scores_document_fails_is_quarantined_and_the_others_scored() -> (
    None
):
    quarantine, scores = Quarantine(), Scores(KeyError("version"))

    assert await scoring(Facts(), scores, quarantine).score(NOW) == 2

    assert scores.recorded == ["a", "c"]
    assert quarantine.put_aside == [(LOOP, "b", "KeyError")]


async def test_mongodb_away_is_raised_for_the_loop_to_wait_never_quarantined() -> None:
    quarantine, scores = Quarantine(), Scores(AutoReconnect("connection refused"))

    with pytest.raises(AutoReconnect):
        await scoring(Facts(), scores, quarantine).score(NOW)

    registry, stop = Registry(), asyncio.Event()
    away = scoring(Facts(AutoReconnect("connection refused")), scores, quarantine)
    task = asyncio.create_task(away.loop(interval=0.01).run(stop, registry=registry))

    def waiting() -> bool:
        beat = registry.reports().get(f"loop:{LOOP}")
        return beat is not None and beat.alive and beat.state == "waiting-on-server"

    await eventually_async(waiting, what="the loop waiting on the server", within=5)
    stop.set()
    await task
    assert quarantine.put_aside == []


class Outbox(MongoOutbox):
    collection_name = "test_outbox"
    topics = ("crm.test.v1",)

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        super().__init__(collection=None)  # type: ignore[arg-type]
        self.documents = documents
        self.emptied: list[str] = []

    async def pending(self) -> list[dict[str, Any]]:
        return self.documents

    async def published(self, document: dict[str, Any]) -> bool:
        self.emptied.append(document["_id"])
        return True


ENTRY = {"id": "e", "topic": "crm.test.v1", "key": "k", "value": "v", "headers": [["h", "x"]]}


def document(key: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"_id": key, "version": 1, "outbox": list(entries or [ENTRY]), "outbox_pending": True}


@pytest.mark.parametrize(
    "entry",
    [
        ENTRY | {"topic": "crm.other.v1"},
        ENTRY | {"key": 7},
        ENTRY | {"value": None},
        ENTRY | {"headers": [["h"]]},
        ENTRY | {"headers": "h"},
        "not an entry",
    ],
)
def test_an_outbox_entry_malformed_or_bound_elsewhere_makes_its_document_poison(
    entry: Any,
) -> None:
    outbox = Outbox([])
    assert outbox.entries(document("fine")) == [ENTRY]
    with pytest.raises(PoisonOutbox):
        outbox.entries(document("poison", ENTRY, entry))
    with pytest.raises(PoisonOutbox):
        outbox.entries({"_id": "no outbox", "version": 1})


async def test_a_record_kafka_refuses_for_good_is_quarantined_kafka_away_is_raised() -> None:
    outbox, quarantine = Outbox([document("a"), document("b"), document("c")]), Quarantine()
    refused: list[Exception] = [MessageSizeTooLargeError()]

    async def publish(entries: list[dict[str, Any]]) -> None:
        if len(outbox.emptied) == 1 and refused:
            raise refused.pop()

    assert await OutboxRelay([outbox], quarantine).relay(publish) == 2  # type: ignore[arg-type]
    assert outbox.emptied == ["a", "c"]
    assert quarantine.put_aside == [(RELAY_LOOP, "test_outbox/b", "MessageSizeTooLargeError")]

    async def away(entries: list[dict[str, Any]]) -> None:
        raise KafkaConnectionError("no broker")

    with pytest.raises(KafkaConnectionError):
        await OutboxRelay([outbox], quarantine).relay(away)  # type: ignore[arg-type]
    assert len(quarantine.put_aside) == 1


async def test_the_patience_retries_a_coordinator_not_yet_available_then_answers() -> None:
    answers: list[Any] = [GroupCoordinatorNotAvailableError(), KafkaConnectionError(), "offsets"]
    patience = Patience(seconds=5, backoff=0.01)

    async def ask() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await patience.call("the offsets", ask) == "offsets"
    assert 0.02 <= patience.waited < 0.1


async def test_the_patience_raises_other_errors_at_once_and_gives_up_when_spent() -> None:
    patience = Patience(seconds=0.05, backoff=0.02)

    async def refused() -> None:
        raise ValueError("not a broker's failure")

    async def away() -> None:
        raise GroupCoordinatorNotAvailableError()

    with pytest.raises(ValueError):
        await patience.call("a refusal", refused)
    assert patience.waited == 0
    with pytest.raises(OutOfPatience, match=r"the committed offsets of g.*GroupCoordinator"):
        await patience.call("the committed offsets of g", away)
    with pytest.raises(OutOfPatience, match="records"):
        patience.spent("records", 1.0)


class Unanswered:
    """A producer whose broker went away: aiokafka keeps the record and never answers."""

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()


async def test_a_publish_the_broker_never_acknowledges_times_out_as_a_servers_failure() -> None:
    with pytest.raises(TimeoutError) as raised:
        await kafka_publish(Unanswered(), [ENTRY], within=0.05)  # type: ignore[arg-type]
    assert is_transient(raised.value)
