"""Segments: a static list of customers kept by hand, or a dynamic segment defined by a rule.

A dynamic segment's membership follows its rule: whenever marketing learns something about a
customer the rule is evaluated again and the customer joins or leaves, each change an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.commands import WithoutRequestIds

from .errors import InvalidTransition, RuleViolation
from .rules import Rule, parse_rule
from .singleton import Singleton

NAME_MAX_LENGTH = 200
STATIC = "static"
DYNAMIC = "dynamic"


class Segment(Aggregate):
    id: UUID

    class Event(WithoutRequestIds, Aggregate.Event):
        pass

    @classmethod
    def define(
        cls,
        segment_id: UUID,
        *,
        name: str,
        rule: Mapping[str, Any] | None,
        defined_by: str,
        defined_at: datetime,
    ) -> Segment:
        name = name.strip()
        if not 1 <= len(name) <= NAME_MAX_LENGTH:
            raise RuleViolation("name", f"must have 1 to {NAME_MAX_LENGTH} characters")
        if rule is not None:
            parse_rule(rule)
        segment: Segment = cls(
            id=segment_id,
            name=name,
            rule=None if rule is None else dict(rule),
            defined_by=defined_by,
            defined_at=defined_at,
        )
        return segment

    @event("Defined")
    def __init__(
        self,
        name: str,
        rule: dict[str, Any] | None,
        defined_by: str,
        defined_at: datetime,
    ) -> None:
        self.name = name
        self.rule = rule
        self.defined_by = defined_by
        self.defined_at = defined_at
        self.members: set[UUID] = set()

    @property
    def kind(self) -> str:
        return STATIC if self.rule is None else DYNAMIC

    def parsed_rule(self) -> Rule | None:
        return None if self.rule is None else parse_rule(self.rule)

    # --- static lists -------------------------------------------------------------------------

    def add_by_hand(self, customer_id: UUID, at: datetime) -> bool:
        self._static_only()
        return self._join(customer_id, at)

    def remove_by_hand(self, customer_id: UUID, at: datetime) -> bool:
        self._static_only()
        return self._leave(customer_id, at)

    def _static_only(self) -> None:
        if self.rule is not None:
            raise InvalidTransition("a dynamic segment's members follow its rule")

    # --- dynamic segments ---------------------------------------------------------------------

    def reevaluate(
        self, customer_id: UUID, attributes: Mapping[str, Any] | None, now: datetime
    ) -> bool:
        """Join or leave by the rule; ``attributes`` None removes (an erased customer)."""
        rule = self.parsed_rule()
        if rule is None:
            return self._leave(customer_id, now) if attributes is None else False
        if attributes is not None and rule.holds(attributes, now):
            return self._join(customer_id, now)
        return self._leave(customer_id, now)

    # --- membership ---------------------------------------------------------------------------

    def _join(self, customer_id: UUID, at: datetime) -> bool:
        if customer_id in self.members:
            return False
        self._member_added(customer_id=customer_id, added_at=at)
        return True

    def _leave(self, customer_id: UUID, at: datetime) -> bool:
        if customer_id not in self.members:
            return False
        self._member_removed(customer_id=customer_id, removed_at=at)
        return True

    @event("MemberAdded")
    def _member_added(self, customer_id: UUID, added_at: datetime) -> None:
        self.members.add(customer_id)

    @event("MemberRemoved")
    def _member_removed(self, customer_id: UUID, removed_at: datetime) -> None:
        self.members.discard(customer_id)


class SegmentDirectory(Singleton):
    """Every segment's id, in one small aggregate: what a customer's new facts are evaluated
    against. Saved together with each new segment, so the two never disagree."""

    ID = UUID("5e6d0a3c-7b1f-5c2e-9a4d-3f8b2c1d0e9f")
    id: UUID

    @event("Opened")
    def __init__(self) -> None:
        self.segment_ids: list[UUID] = []

    def list(self, segment_id: UUID) -> None:
        if segment_id not in self.segment_ids:
            self._listed(segment_id=segment_id)

    @event("Listed")
    def _listed(self, segment_id: UUID) -> None:
        self.segment_ids.append(segment_id)
