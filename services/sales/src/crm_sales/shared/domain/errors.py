"""What the sales domain refuses: the platform's refusals, each naming the kind of record
(``lead``, ``opportunity``, ``quote``...) it is about, for every sales area.

``create_api`` answers each with its problem (``crm_platform.errors`` names the statuses).
"""

from __future__ import annotations

from uuid import UUID

from crm_platform import errors
from crm_platform.errors import IdempotencyKeyReused, RecordNotFound, RuleViolation, VersionConflict

__all__ = [
    "IdempotencyKeyReused",
    "InvalidState",
    "RecordNotFound",
    "RuleViolation",
    "VersionConflict",
]


class InvalidState(errors.InvalidState):
    """The record exists, but its state does not allow the command (a won opportunity moved...)."""

    def __init__(self, kind: str, record_id: UUID | str, detail: str) -> None:
        super().__init__(f"{kind} {record_id}: {detail}")
        self.kind = kind
        self.record_id = record_id
