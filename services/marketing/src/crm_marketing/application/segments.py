"""Segment commands and queries, and the re-evaluation of dynamic segments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ..domain import AudienceProfile, InvalidTransition, Segment, SegmentDirectory
from .common import WRITE_ATTEMPTS, Outcome, Store, check_version, utcnow


class SegmentCommands(Store):
    def define_segment(
        self,
        segment_id: UUID,
        *,
        name: str,
        rule: Mapping[str, Any] | None,
        defined_by: str,
        request_fingerprint: str,
    ) -> Outcome[Segment]:
        """A static list (no rule) or a dynamic segment, evaluated at once over every customer
        already known, so it is complete from its first version."""

        def build() -> tuple[Any, ...]:
            now = utcnow()
            segment = Segment.define(
                segment_id,
                name=name,
                rule=rule,
                defined_by=defined_by,
                defined_at=now,
                request_fingerprint=request_fingerprint,
            )
            directory = self.segment_directory()
            directory.list(segment_id)
            if segment.rule is not None:
                for profile in self.known_profiles():
                    segment.reevaluate(profile.id, _facts(profile), now)
            return segment, directory

        return self.create_once(build, Segment, segment_id, request_fingerprint)

    def change_membership(
        self,
        segment_id: UUID,
        customer_id: UUID,
        *,
        member: bool,
        expected_version: int | None,
    ) -> Outcome[Segment]:
        """Add to or remove from a static list; doing it again changes nothing (replayed)."""
        for _ in range(WRITE_ATTEMPTS):
            segment = self.segment(segment_id)
            check_version(segment, expected_version)
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
                if expected_version is not None:
                    check_version(self.segment(segment_id), expected_version)
                continue
            return Outcome(segment, replayed=False)
        raise InvalidTransition(f"segment {segment_id} keeps changing; try again")

    def segment(self, segment_id: UUID) -> Segment:
        return self.load(Segment, segment_id, "segment")

    def segments(self) -> list[Segment]:
        return [self.segment(s) for s in self.segment_directory().segment_ids]

    def segment_directory(self) -> SegmentDirectory:
        return self.load_or_none(SegmentDirectory, SegmentDirectory.ID) or SegmentDirectory.open()

    def known_profiles(self) -> Iterator[AudienceProfile]:
        """Every customer marketing has heard of: found through the notification log, whose
        topic index gives the start of each profile without a directory to keep."""
        for customer_id in self.aggregate_ids(AudienceProfile.Started):  # type: ignore[attr-defined]
            profile = self.load_or_none(AudienceProfile, customer_id)
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
