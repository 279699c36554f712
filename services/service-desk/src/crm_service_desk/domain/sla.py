"""SLA policies and clocks: targets per priority, counted in business time, paused while the
ticket waits on the customer (or is resolved), and the rules that escalate a breach."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .calendar import ZERO, WorkingCalendar
from .errors import RuleViolation
from .values import Category, Priority, SlaTarget

# A span the clocks stood still: (from, until), until None while it lasts.
Pause = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        if not ZERO < self.first_response <= self.resolution:
            raise RuleViolation(
                "targets", "need 0 < first response <= resolution (in business time)"
            )

    def of(self, target: SlaTarget) -> timedelta:
        return self.first_response if target is SlaTarget.FIRST_RESPONSE else self.resolution


def _hours(first_response: float, resolution: float) -> SlaTargets:
    return SlaTargets(timedelta(hours=first_response), timedelta(hours=resolution))


# What Zendesk's and Service Cloud's starter policies look like, in business hours.
DEFAULT_TARGETS: Mapping[Priority, SlaTargets] = {
    Priority.URGENT: _hours(0.5, 4),
    Priority.HIGH: _hours(2, 16),
    Priority.NORMAL: _hours(8, 40),
    Priority.LOW: _hours(16, 80),
}


@dataclass(frozen=True)
class EscalationRules:
    """Which breaches escalate the ticket automatically (reason ``sla_breach``)."""

    # Every breach of a ticket of these priorities.
    priorities: frozenset[Priority] = frozenset({Priority.URGENT, Priority.HIGH})
    # A missed resolution of a ticket in these categories, whatever its priority.
    resolution_categories: frozenset[Category] = frozenset({Category.COMPLAINT})

    def escalates(self, priority: Priority, category: Category, target: SlaTarget) -> bool:
        return priority in self.priorities or (
            target is SlaTarget.RESOLUTION and category in self.resolution_categories
        )


@dataclass(frozen=True)
class SlaPolicy:
    calendar: WorkingCalendar
    targets: Mapping[Priority, SlaTargets] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    escalation: EscalationRules = EscalationRules()

    def __post_init__(self) -> None:
        missing = set(Priority) - set(self.targets)
        if missing:
            raise RuleViolation("targets", f"no targets for {', '.join(sorted(missing))}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaPolicy:
        """``{"calendar": {...}, "targets": {"urgent": {"first_response_minutes": 30,
        "resolution_minutes": 240}, ...}}`` (the service's configuration)."""
        targets = dict(DEFAULT_TARGETS)
        for name, minutes in dict(data.get("targets", {})).items():
            try:
                targets[Priority(name)] = SlaTargets(
                    timedelta(minutes=minutes["first_response_minutes"]),
                    timedelta(minutes=minutes["resolution_minutes"]),
                )
            except RuleViolation as violation:
                raise RuleViolation(f"targets.{name}", violation.detail) from None
            except (KeyError, TypeError, ValueError) as error:
                raise RuleViolation(f"targets.{name}", f"not a target: {error!r}") from None
        if "calendar" not in data:
            raise RuleViolation("calendar", "a working calendar is required")
        try:
            calendar = WorkingCalendar.from_dict(data["calendar"])
        except RuleViolation as violation:  # named from the policy down
            field = violation.field.removeprefix("calendar").lstrip(".")
            raise RuleViolation(f"calendar.{field}".rstrip("."), violation.detail) from None
        return cls(calendar, targets)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``from_dict`` reads (and SLA policy events keep)."""
        return {
            "calendar": self.calendar.to_dict(),
            "targets": {
                priority.value: {
                    "first_response_minutes": targets.first_response / timedelta(minutes=1),
                    "resolution_minutes": targets.resolution / timedelta(minutes=1),
                }
                for priority, targets in sorted(self.targets.items())
            },
        }


def _running(
    opened_at: datetime, pauses: Sequence[Pause]
) -> Iterator[tuple[datetime, datetime | None]]:
    """The spans the clocks ran: from opening to the first pause, between pauses, then on."""
    start: datetime | None = opened_at
    for paused_at, resumed_at in pauses:
        if start is not None:
            yield start, paused_at
        start = resumed_at
    if start is not None:
        yield start, None


def elapsed(
    calendar: WorkingCalendar, opened_at: datetime, pauses: Sequence[Pause], at: datetime
) -> timedelta:
    """The business time the clocks ran from opening until ``at``."""
    total = ZERO
    for start, end in _running(opened_at, pauses):
        if start >= at:
            break
        total += calendar.between(start, at if end is None else min(end, at))
    return total


def due_at(
    calendar: WorkingCalendar, opened_at: datetime, pauses: Sequence[Pause], target: timedelta
) -> datetime | None:
    """When ``target`` of running business time is used up; None when the clocks stand still
    short of it (paused now), since then nobody can know when it will be."""
    remaining = target
    for start, end in _running(opened_at, pauses):
        span = None if end is None else calendar.between(start, end)
        if span is None or span >= remaining:
            return calendar.add(start, remaining)
        remaining -= span
    return None
