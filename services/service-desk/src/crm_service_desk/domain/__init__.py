"""The service desk's domain: tickets with their SLA clocks, and knowledge-base articles."""

from .article import Article
from .calendar import WorkingCalendar
from .errors import (
    IdempotencyKeyReused,
    InvalidState,
    RecordNotFound,
    RuleViolation,
    TransitionNotAllowed,
    VersionConflict,
)
from .policy import SlaPolicyRecord
from .sla import EscalationRules, SlaPolicy, SlaTargets
from .ticket import Message, Ticket
from .values import (
    Action,
    Category,
    Channel,
    EscalationReason,
    Priority,
    SlaTarget,
    Status,
    ticket_reference,
)

__all__ = [
    "Action",
    "Article",
    "Category",
    "Channel",
    "EscalationReason",
    "EscalationRules",
    "IdempotencyKeyReused",
    "InvalidState",
    "Message",
    "Priority",
    "RecordNotFound",
    "RuleViolation",
    "SlaPolicy",
    "SlaPolicyRecord",
    "SlaTarget",
    "SlaTargets",
    "Status",
    "Ticket",
    "TransitionNotAllowed",
    "VersionConflict",
    "WorkingCalendar",
    "ticket_reference",
]
