"""What the service-desk domain refuses: the platform's refusals, and a ticket's transitions.

``create_api`` answers each with its problem (``crm_platform.errors`` names the statuses).
"""

from __future__ import annotations

from uuid import UUID

from crm_platform.errors import (
    IdempotencyKeyReused,
    InvalidState,
    RecordNotFound,
    RuleViolation,
    VersionConflict,
)

__all__ = [
    "IdempotencyKeyReused",
    "InvalidState",
    "RecordNotFound",
    "RuleViolation",
    "TransitionNotAllowed",
    "VersionConflict",
]


class TransitionNotAllowed(InvalidState):
    """The ticket's status does not allow the command (a 409: the state, not the input, is wrong)."""

    def __init__(self, ticket_id: UUID, action: str, status: str) -> None:
        super().__init__(f"ticket {ticket_id} is {status}: it cannot be {action}")
        self.ticket_id = ticket_id
        self.action = action
        self.status = status
