"""What every group of marketing commands shares: loading aggregates, retrying lost races."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from crm_platform.tracking import TrackingApplication

from ..domain import IdempotencyKeyReused, NotFound, VersionConflict

T = TypeVar("T")
A = TypeVar("A")

# A command without an expected version re-reads and retries when a concurrent writer won the
# race for the next version; with one, the lost race is the client's conflict to resolve.
WRITE_ATTEMPTS = 5
PAGE = 1000  # notifications per read of the log
SERVICE = "marketing"  # how the platform's metrics and quarantine name the service


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A command's result; ``replayed`` when a retry found the work already done."""

    value: T
    replayed: bool


class Store(TrackingApplication):
    """Typed loading for the command mixins (the application class combines them)."""

    def load(self, kind: type[A], aggregate_id: UUID, name: str) -> A:
        found = self.load_or_none(kind, aggregate_id)
        if found is None:
            raise NotFound(name, aggregate_id)
        return found

    def load_or_none(self, kind: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    def aggregate_ids(self, created: type[Any], after: int = 0) -> Iterator[UUID]:
        """The ids of every aggregate whose first event is of class ``created``, oldest first."""
        topic = get_topic(created)
        while page := self.recorder.select_notifications(
            start=after, limit=PAGE, topics=[topic], inclusive_of_start=False
        ):
            yield from (notification.originator_id for notification in page)
            after = page[-1].id

    def create_once(
        self, build: Callable[[], Any], kind: type[A], aggregate_id: UUID, fingerprint: str
    ) -> Outcome[A]:
        """Save what ``build`` makes, once per id; a retry of the same request gets the first
        answer back, another request with the same idempotency key is refused."""
        for _ in range(WRITE_ATTEMPTS):
            existing = self.load_or_none(kind, aggregate_id)
            if existing is not None:
                if getattr(existing, "request_fingerprint", None) != fingerprint:
                    raise IdempotencyKeyReused(f"{aggregate_id} was created by another request")
                return Outcome(existing, replayed=True)
            built = build()
            aggregates = built if isinstance(built, tuple) else (built,)
            try:
                self.save(*aggregates)
            except IntegrityError:
                continue  # a concurrent retry saved it first, or a shared aggregate moved on
            return Outcome(aggregates[0], replayed=False)
        raise VersionConflict(aggregate_id, None, 0)


def check_version(aggregate: Any, expected: int | None) -> None:
    if expected is not None and expected != aggregate.version:
        raise VersionConflict(aggregate.id, expected, aggregate.version)
