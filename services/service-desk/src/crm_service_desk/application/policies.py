"""The SLA policy in force: read by every ticket opening, changed by administrators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from crm_platform.commands import Outcome

from ..domain import SlaPolicy, SlaPolicyRecord, VersionConflict
from .base import ServiceDeskBase

POLICY = "SLA policy"


@dataclass(frozen=True)
class PolicyView:
    version: int  # 0: nothing adopted yet, the configured default is in force
    policy: dict[str, Any]  # SlaPolicy.to_dict()
    adopted_by: str | None
    adopted_at: datetime | None


class PolicyCommands(ServiceDeskBase):
    def sla_policy(self) -> PolicyView:
        record = self.find(SlaPolicyRecord, SlaPolicyRecord.ID)
        if record is None:
            return PolicyView(0, self.default_policy.to_dict(), None, None)
        return PolicyView(record.version, record.policy, record.adopted_by, record.adopted_at)

    def current_sla_policy(self) -> SlaPolicy:
        """The policy a ticket opening now gets: the last adopted, else the configured one."""
        record = self.find(SlaPolicyRecord, SlaPolicyRecord.ID)
        return self.default_policy if record is None else record.current

    def adopt_sla_policy(
        self, stated: Mapping[str, Any], *, by: str, expected_version: int | None
    ) -> Outcome[PolicyView]:
        """Put a new policy in force from now on (tickets already open keep theirs). Stating
        the policy in force again changes nothing (``replayed``), so a retried PUT is safe."""
        policy = SlaPolicy.from_dict(stated)  # RuleViolation names the field at fault
        record = self.find(SlaPolicyRecord, SlaPolicyRecord.ID)
        current = 0 if record is None else record.version
        if expected_version is not None and expected_version != current:
            raise VersionConflict(SlaPolicyRecord.ID, expected_version, current, kind=POLICY)
        if record is None:
            record = SlaPolicyRecord.adopt_first(policy, by=by, at=self.clock())
        elif not record.adopt(policy, by=by, at=self.clock()):
            return Outcome(self.sla_policy(), replayed=True)
        try:
            self.save(record)
        except IntegrityError:  # another administrator adopted one meanwhile
            actual = self.sla_policy().version
            raise VersionConflict(SlaPolicyRecord.ID, current, actual, kind=POLICY) from None
        return Outcome(self.sla_policy(), replayed=False)
