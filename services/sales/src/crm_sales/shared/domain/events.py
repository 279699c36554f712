"""The event classes of aggregates, by name.

eventsourcing makes the event class of each ``@event("Captured")`` method when the aggregate's
class is made, beyond a type checker's sight: ``event_class(Lead, "Captured")`` is
``Lead.Captured``, typed.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate, DomainEvent


def event_class(aggregate: type[Aggregate], name: str) -> type[DomainEvent]:
    found: type[DomainEvent] = getattr(aggregate, name)
    return found
