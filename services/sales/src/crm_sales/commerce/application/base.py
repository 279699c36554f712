"""What every commerce command shares: the sales store's idempotent commands, and the calendar.

Commands run on the sales application's store (``SalesStore``: a command's receipt is saved
with the aggregates it changed, so a retry replays the first answer). The names here carry a
``commerce`` prefix: SalesApplication joins several mixins, and a private helper of the same name
in another would silently replace this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import cached_property
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ...shared.application.store import Command, Outcome, SalesStore
from ...shared.domain.errors import RuleViolation
from ..domain.base import CommerceAggregate
from .views import CommerceViews

A = TypeVar("A", bound=CommerceAggregate)


def utc_now() -> datetime:
    return datetime.now(UTC)


class CommerceBase(SalesStore):
    # The business calendar is UTC. Tests replace the clock to see quotes expire.
    clock: Callable[[], datetime] = staticmethod(utc_now)

    @cached_property
    def commerce_views(self) -> CommerceViews:
        return self.read_model(CommerceViews)

    def commerce_today(self) -> date:
        return self.clock().date()

    def _commerce_record(self, kind: type[A], record_id: UUID) -> A:
        """The aggregate named in a path: unknown is 404."""
        return self.load(kind.KIND, kind, record_id)

    def _commerce_reference(self, kind: type[A], record_id: UUID, field: str) -> A:
        """The aggregate named in a request body: unknown is invalid input about ``field``."""
        aggregate = self.find(kind, record_id)
        if aggregate is None:
            raise RuleViolation(field, f"no {kind.KIND} {record_id} exists")
        return aggregate

    def _commerce_create(
        self, kind: type[A], command: Command, build: Callable[[], Sequence[Aggregate]]
    ) -> Outcome[A]:
        """Save what ``build`` returns, the new aggregate first, with the command's receipt."""
        return self.create(command, kind.KIND, build)

    def _commerce_change(
        self,
        kind: type[A],
        record_id: UUID,
        command: Command,
        change: Callable[[A], Sequence[Aggregate] | None],
    ) -> Outcome[A]:
        """Apply ``change`` to the aggregate; it returns other aggregates to save with it, if any."""
        return self.execute(
            command,
            kind.KIND,
            lambda: self._commerce_record(kind, record_id),
            lambda aggregate: change(aggregate) or (),
        )
