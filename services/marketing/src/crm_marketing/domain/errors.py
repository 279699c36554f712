"""What the marketing domain refuses: the platform's refusals, under the names marketing uses.

``create_api`` answers each with its problem (``crm_platform.errors`` names the statuses).
"""

from __future__ import annotations

from crm_platform.errors import (
    InvalidState,
    RecordNotFound,
    RuleViolation,
    VersionConflict,
)

__all__ = [
    "InvalidTransition",
    "NotFound",
    "RuleViolation",
    "VersionConflict",
]

NotFound = RecordNotFound
# A command the aggregate's current state does not allow (launching a completed campaign).
InvalidTransition = InvalidState
