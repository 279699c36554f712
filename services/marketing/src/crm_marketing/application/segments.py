"""Segment commands and queries, and the re-evaluation of dynamic segments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from crm_platform.commands import Command, Outcome

from ..domain import AudienceProfile, InvalidTransition, Segment, SegmentDirectory, VersionConflict
from .common import WRITE_ATTEMPTS, Store, utcnow


class SegmentCommands(Store):
    def define_segment(
        self, command: Command, segment_id: UUID, *, name: str, rule: Mapping[str, Any] | None
    ) -> Outcome[Segment]:
        """A static list (no rule) or a dynamic segment, evaluated at once over every customer
        already known, so it is complete from its first version."""

        def build() -> list[Aggregate]:
            now = utcnow()
            segment = Segment.define(
                segment_id, name=name, rule=rule, defined_by=command.actor, defined_at=now
            )
            directory = self.singleton(SegmentDirectory)
            directory.list(segment_id)
            if segment.rule is not None:
                for profile in self.known_profiles():
                    segment.reevaluate(profile.id, _facts(profile), now)
            return [segment, directory]

        return self.create(
            command, "segment", build, made_before=lambda: self.find(Segment, segment_id)
        )

    def change_membership(
        self, segment_id: UUID, customer_id: UUID, *, member: bool, expected_version: int | None
    ) -> Outcome[Segment]:
        """Add to or remove from a static list. Idempotent by nature (no key): doing it again
        changes nothing and is answered as a replay."""
        for _ in range(WRITE_ATTEMPTS):
            segment = self.segment(segment_id)
            if expected_version is not None and expected_version != segment.version:
                raise VersionConflict(segment_id, expected_version, segment.version, kind="segment")
            now = utcnow()
            changed = (
                segment.add_by_hand(customer_id, now)
                if member
                else segment.remove_by_hand(customer_id, now)
            )
            if not changed:
                return Outcome(segment, replayed=True)
            try:
                self.save(segment)
            except IntegrityError:
                continue  # re-read: the version check decides whether this was a conflict
            return Outcome(segment, replayed=False)
        raise InvalidTransition(f"segment {segment_id} keeps changing; try again")

    def segment(self, segment_id: UUID) -> Segment:
        return self.load("segment", Segment, segment_id)

    def segments(self) -> list[Segment]:
        return [self.segment(s) for s in self.singleton(SegmentDirectory).segment_ids]

    def known_profiles(self) -> Iterator[AudienceProfile]:
        """Every customer marketing has heard of: found through the notification log, whose
        topic index gives the start of each profile without a directory to keep."""
        for customer_id in self.aggregate_ids(AudienceProfile.Started):  # type: ignore[attr-defined]
            profile = self.find(AudienceProfile, customer_id)
            if profile is not None:
                yield profile

    def reevaluated_segments(self, profile: AudienceProfile, now: datetime) -> list[Segment]:
        """The dynamic segments whose membership of this customer changed (pending events)."""
        facts = _facts(profile)
        changed = []
        for segment in self.segments():
            if segment.rule is not None and segment.reevaluate(profile.id, facts, now):
                changed.append(segment)
        return changed


def _facts(profile: AudienceProfile) -> Mapping[str, Any] | None:
    """An erased customer matches no rule."""
    return None if profile.erased else profile.attributes()
