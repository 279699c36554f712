"""Events published by the service desk."""

from . import articles, classification, identification, sla, tickets
from .articles import ArticlePublished
from .classification import TicketReclassified
from .identification import (
    TicketCustomerFlagCleared,
    TicketCustomerIdentified,
)
from .sla import SlaBreached, SlaTarget
from .ticket import EscalationReason, TicketEscalated, TicketPriority
from .tickets import (
    ReplyAuthor,
    SatisfactionRated,
    TicketAssigned,
    TicketCategory,
    TicketChannel,
    TicketClosed,
    TicketOpened,
    TicketReopened,
    TicketReplied,
    TicketResolved,
    TicketStatus,
    TicketStatusChanged,
)

__all__ = [
    "ArticlePublished",
    "EscalationReason",
    "ReplyAuthor",
    "SatisfactionRated",
    "SlaBreached",
    "SlaTarget",
    "TicketAssigned",
    "TicketCategory",
    "TicketChannel",
    "TicketClosed",
    "TicketCustomerFlagCleared",
    "TicketCustomerIdentified",
    "TicketEscalated",
    "TicketOpened",
    "TicketPriority",
    "TicketReclassified",
    "TicketReopened",
    "TicketReplied",
    "TicketResolved",
    "TicketStatus",
    "TicketStatusChanged",
    "articles",
    "classification",
    "identification",
    "sla",
    "tickets",
]
