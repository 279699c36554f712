"""The progress of a person's erasure: which services confirmed their part of it, and when.

Erasing a person opens an ``ErasureProgress`` per erased record (the person, and the duplicates
merged into them), in the transaction that records the erasure, naming the services expected to
confirm it. Each service's ``CustomerErasureConfirmed`` is recorded once; when the last expected
service has confirmed, the erasure is complete. A service that could not apply the erasure (its
consumer dead-lettered ``CustomerErased``) never confirms: the erasure stays pending, and is
overdue once its deadline passed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("5b8e2d47-c1a3-4f69-9e07-3d6a8f2b1c54")


@dataclass(frozen=True)
class ServiceConfirmation:
    """A service's part done: when, and what it erased (``{"kind", "method"}`` each)."""

    confirmed_at: datetime
    erased: tuple[dict[str, str], ...]


class ErasureProgress(Aggregate):
    @staticmethod
    def create_id(customer_id: UUID) -> UUID:
        return uuid.uuid5(NAMESPACE, str(customer_id))

    @event("Requested")
    def __init__(self, customer_id: UUID, requested_at: datetime, expected: list[str]) -> None:
        self.customer_id = customer_id
        self.requested_at = requested_at
        self.expected = list(expected)
        self.confirmations: dict[str, ServiceConfirmation] = {}
        self.completed_at: datetime | None = None

    @property
    def pending(self) -> list[str]:
        """The expected services that have not confirmed yet, in the order expected."""
        return [service for service in self.expected if service not in self.confirmations]

    @property
    def complete(self) -> bool:
        return self.completed_at is not None

    def due_by(self, deadline: timedelta) -> datetime:
        return self.requested_at + deadline

    def overdue(self, now: datetime, deadline: timedelta) -> bool:
        return not self.complete and now > self.due_by(deadline)

    def confirm(self, service: str, confirmed_at: datetime, erased: list[dict[str, str]]) -> bool:
        """Record ``service``'s confirmation; False when it confirmed before (a repeat). A
        service not expected is recorded too, but completes nothing."""
        if service in self.confirmations:
            return False
        self._confirmed(service=service, confirmed_at=confirmed_at, erased=erased)
        if not self.complete and not self.pending:
            # Complete as of the last expected part done, whatever order they arrived in.
            done = max(self.confirmations[s].confirmed_at for s in self.expected)
            self._completed(completed_at=done)
        return True

    @event("Confirmed")
    def _confirmed(
        self, service: str, confirmed_at: datetime, erased: list[dict[str, str]]
    ) -> None:
        self.confirmations[service] = ServiceConfirmation(confirmed_at, tuple(erased))

    @event("Completed")
    def _completed(self, completed_at: datetime) -> None:
        self.completed_at = completed_at
