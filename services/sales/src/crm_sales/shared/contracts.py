"""Translation of domain events into integration events, declared as a table per area.

Most integration events restate their domain event: the record's id, the event's time, and fields
of the same names. ``restated`` builds such a translation from the contract's class, naming only
what differs; an event that is more than a restatement keeps a function of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

from crm_events import EventData

from .copied import copied
from .domain.events import event_class

E = TypeVar("E", bound=EventData)
Translation = Callable[[Any], EventData | list[EventData]]
Payload = Callable[[Any], EventData | list[EventData] | None]


def restated(
    contract: type[E], *, record: str, at: str, **derived: Callable[[Any], Any]
) -> Callable[[Any], E]:
    """``contract`` from a domain event: the aggregate's id as ``record``, the event's time as
    ``at``, each field of ``derived`` computed, and every other field of the contract copied from
    the event's attribute of that name."""

    def translate(event: Any) -> E:
        values = {name: derive(event) for name, derive in derived.items()}
        values |= {record: event.originator_id, at: event.timestamp}
        return contract(**copied(contract, event, **values))

    return translate


def translator(tables: Mapping[type[Aggregate], Mapping[str, Translation]]) -> Payload:
    """An area's ``payload`` from its tables (aggregate: its event's name: translation): the
    integration events of a domain event, None for one kept private (or another area's)."""
    table = {
        event_class(aggregate, name): translate
        for aggregate, translations in tables.items()
        for name, translate in translations.items()
    }

    def payload(domain_event: Any) -> EventData | list[EventData] | None:
        translate = table.get(type(domain_event))
        return None if translate is None else translate(domain_event)

    return payload
