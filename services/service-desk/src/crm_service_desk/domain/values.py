"""Value types of the service desk: priorities, channels, categories, statuses, and the lifecycle
rules (which command is allowed in which status) stated once, as data."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from .errors import RuleViolation

SUBJECT_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 20_000
AGENT_MAX_LENGTH = 200
COMMENT_MAX_LENGTH = 2_000


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Channel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    PHONE = "phone"
    CHAT = "chat"
    API = "api"


class Category(StrEnum):
    QUESTION = "question"
    INCIDENT = "incident"
    PROBLEM = "problem"
    REQUEST = "request"
    COMPLAINT = "complaint"
    BILLING = "billing"


class Status(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class Action(StrEnum):
    """The commands that depend on a ticket's status."""

    ASSIGN = "assigned"
    START_WORK = "started"
    WAIT_ON_CUSTOMER = "put on hold"
    ESCALATE = "escalated"
    RESOLVE = "resolved"
    REOPEN = "reopened"
    CLOSE = "closed"
    REPLY = "replied to"
    ADD_NOTE = "annotated"
    RATE = "rated"
    RECLASSIFY = "reclassified"


class EscalationReason(StrEnum):
    SLA_BREACH = "sla_breach"
    CUSTOMER_REQUEST = "customer_request"
    COMPLAINT = "complaint"
    TECHNICAL_COMPLEXITY = "technical_complexity"
    REOPENED_REPEATEDLY = "reopened_repeatedly"
    OTHER = "other"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


# Being worked on: the SLA clocks run unless the ticket waits on the customer.
ACTIVE = frozenset(
    {
        Status.OPEN,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_ON_CUSTOMER,
        Status.ESCALATED,
        Status.REOPENED,
    }
)
# While the ticket is in one of these, its SLA clocks stand still.
PAUSED = frozenset({Status.WAITING_ON_CUSTOMER, Status.RESOLVED, Status.CLOSED})

# The lifecycle: the statuses each command is allowed from. A closed ticket is final.
ALLOWED_FROM: dict[Action, frozenset[Status]] = {
    Action.ASSIGN: ACTIVE,
    Action.START_WORK: frozenset(
        {Status.ASSIGNED, Status.WAITING_ON_CUSTOMER, Status.ESCALATED, Status.REOPENED}
    ),
    Action.WAIT_ON_CUSTOMER: ACTIVE - {Status.WAITING_ON_CUSTOMER},
    Action.ESCALATE: ACTIVE - {Status.ESCALATED},
    Action.RESOLVE: ACTIVE,
    Action.REOPEN: frozenset({Status.RESOLVED}),
    Action.CLOSE: frozenset({Status.RESOLVED}),
    Action.REPLY: ACTIVE | {Status.RESOLVED},
    Action.ADD_NOTE: ACTIVE | {Status.RESOLVED},
    Action.RATE: frozenset({Status.RESOLVED, Status.CLOSED}),
    Action.RECLASSIFY: ACTIVE | {Status.RESOLVED},
}

E = TypeVar("E", bound=StrEnum)


def member(field: str, enum: type[E], value: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(item.value for item in enum)
        raise RuleViolation(field, f"must be one of {allowed}") from None


def required_text(field: str, value: str, max_length: int) -> str:
    text = value.strip()
    if not text:
        raise RuleViolation(field, "must not be empty")
    if len(text) > max_length:
        raise RuleViolation(field, f"must have at most {max_length} characters")
    return text


def optional_text(field: str, value: str | None, max_length: int) -> str | None:
    return None if value is None or not value.strip() else required_text(field, value, max_length)


# Crockford's base32 alphabet: no I, L, O or U, so a reference read aloud or retyped survives.
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "ABCDEFGHJKMNPQRSTVWXYZ0123456789")
REFERENCE_PREFIX = "SD-"


def ticket_reference(ticket_id: UUID) -> str:
    """A short reference for people and e-mail subjects (``SD-7K3M9Q2XWB``): 50 bits of the id."""
    encoded = base64.b32encode(ticket_id.bytes[:7]).decode()[:10]
    return REFERENCE_PREFIX + encoded.translate(_CROCKFORD)
