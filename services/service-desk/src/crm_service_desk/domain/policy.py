"""The SLA policy in force, as an aggregate: each adoption of a new policy is a version.

Administrators change working hours, holidays and targets over time; every change is recorded
(who, when, what), so "which policy applied when" is answerable. A ticket copies the policy in
force when it opens (its calendar and targets, and this aggregate's version), so a later
change never moves its deadlines. Until a policy is adopted, the service's configured default
is in force (version 0).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .sla import SlaPolicy


class SlaPolicyRecord(Aggregate):
    ID = UUID("3b9c1d7e-6a2f-5e84-9d10-4c7b8a2e5f31")
    id: UUID

    @classmethod
    def adopt_first(cls, policy: SlaPolicy, *, by: str, at: datetime) -> SlaPolicyRecord:
        record: SlaPolicyRecord = cls(id=cls.ID, policy=policy.to_dict(), by=by, at=at)
        return record

    @event("Adopted")
    def __init__(self, policy: dict[str, Any], by: str, at: datetime) -> None:
        self._take(policy, by, at)

    def adopt(self, policy: SlaPolicy, *, by: str, at: datetime) -> bool:
        """Put ``policy`` in force; False (no new version) when it is the one in force."""
        stated = policy.to_dict()
        if stated == self.policy:
            return False
        self._changed(policy=stated, by=by, at=at)
        return True

    @event("Changed")
    def _changed(self, policy: dict[str, Any], by: str, at: datetime) -> None:
        self._take(policy, by, at)

    def _take(self, policy: dict[str, Any], by: str, at: datetime) -> None:
        self.policy = policy
        self.adopted_by = by
        self.adopted_at = at

    @property
    def current(self) -> SlaPolicy:
        return SlaPolicy.from_dict(self.policy)
