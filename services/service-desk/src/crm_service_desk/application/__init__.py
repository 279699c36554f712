"""The service-desk service's event-sourced application (its own PostgreSQL database).

One eventsourcing Application holds tickets and knowledge-base articles; its commands are grouped
by area in mixins over ``base.ServiceDeskBase``. Its personal data (the requesters' texts) is
sealed per ticket (``ShreddingApplication``), and its index tables (``index``, a local
projection of its notification log) sit in the same database.
"""

from __future__ import annotations

from .articles import ArticleCommands, NewArticle
from .commands import TicketCommand
from .index import TicketFilter
from .mail import InboundEmail
from .policies import PolicyView
from .tickets import NewTicket, TicketCommands
from .views import ArticleView, SlaView, TicketView


class ServiceDeskApplication(TicketCommands, ArticleCommands):
    """Tickets (with the SLA policy) and the knowledge base."""


__all__ = [
    "ArticleView",
    "InboundEmail",
    "NewArticle",
    "NewTicket",
    "PolicyView",
    "ServiceDeskApplication",
    "SlaView",
    "TicketCommand",
    "TicketFilter",
    "TicketView",
]
