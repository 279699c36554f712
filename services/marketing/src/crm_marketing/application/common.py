"""What every group of marketing commands shares: the platform's command pipeline
(``crm_platform.commands``), the store's singletons, the ids of every aggregate of a kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from crm_platform.commands import CommandRunner
from crm_platform.tracking import TrackingApplication

from ..domain.singleton import Singleton

S = TypeVar("S", bound=Singleton)

# A write that lost a race for the next version of an aggregate is decided again, this often.
WRITE_ATTEMPTS = 5
PAGE = 1000  # notifications per read of the log
SERVICE = "marketing"  # how the platform's metrics and quarantine name the service


def utcnow() -> datetime:
    return datetime.now(UTC)


def originator(notification: Notification) -> UUID:
    """The id of the aggregate a notification is of (marketing's ids are UUIDs; the library
    types them ``UUID | str``)."""
    record_id = notification.originator_id
    return record_id if isinstance(record_id, UUID) else UUID(record_id)


class Store(CommandRunner, TrackingApplication):
    """Loading and saving for the command mixins (the application class combines them)."""

    def singleton(self, cls: type[S]) -> S:
        """The one ``cls`` of the store, opened (not saved yet) when there is none so far."""
        return self.find(cls, cls.ID) or cls.open()

    def aggregate_ids(self, created: type[Any], after: int = 0) -> Iterator[UUID]:
        """The ids of every aggregate whose first event is of class ``created``, oldest first."""
        topic = get_topic(created)
        while page := self.recorder.select_notifications(
            start=after, limit=PAGE, topics=[topic], inclusive_of_start=False
        ):
            yield from (originator(notification) for notification in page)
            after = page[-1].id
