"""What the application's commands and queries return: plain, immutable data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from crm_platform.commands import Outcome

from ..domain import Article, Message, SlaTarget, Ticket

A = TypeVar("A")
V = TypeVar("V")


@dataclass(frozen=True)
class SlaView:
    target: SlaTarget
    due_at: datetime | None  # None while the clocks stand still or once met
    met: bool
    breached_at_due: datetime | None  # the deadline that was missed, if it was


@dataclass(frozen=True)
class TicketView:
    id: UUID
    reference: str
    customer_id: UUID | None
    organization_id: UUID | None
    subject: str | None  # None once the requester was erased
    description: str | None
    channel: str
    priority: str
    category: str
    status: str
    assignee: str | None
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    sla: tuple[SlaView, ...]
    rating: int | None
    rating_comment: str | None
    reopen_count: int
    messages: tuple[Message, ...]
    version: int
    customer_known: bool  # False: customer_id names a customer no service has heard of

    @classmethod
    def of(cls, ticket: Ticket) -> TicketView:
        pending = ticket.pending_deadlines()
        return cls(
            id=ticket.id,
            reference=ticket.reference,
            customer_id=ticket.customer_id,
            organization_id=ticket.organization_id,
            subject=ticket.subject,
            description=ticket.description,
            channel=ticket.channel.value,
            priority=ticket.priority.value,
            category=ticket.category.value,
            status=ticket.status.value,
            assignee=ticket.assignee,
            opened_at=ticket.opened_at,
            first_response_at=ticket.first_response_at,
            resolved_at=ticket.resolved_at,
            resolution=ticket.resolution,
            sla=tuple(
                SlaView(
                    target=target,
                    due_at=pending.get(target),
                    met=ticket.met(target),
                    breached_at_due=ticket.breaches.get(target),
                )
                for target in SlaTarget
            ),
            rating=ticket.rating,
            rating_comment=ticket.rating_comment,
            reopen_count=ticket.reopen_count,
            messages=tuple(sorted(ticket.messages.values(), key=lambda m: m.ticket_version)),
            version=ticket.version,
            customer_known=ticket.customer_known,
        )


@dataclass(frozen=True)
class ArticleView:
    id: UUID
    title: str
    body: str
    tags: tuple[str, ...]
    source_ticket_id: UUID | None
    author: str
    revision: int
    published_at: datetime | None
    unpublished_changes: bool
    version: int

    @classmethod
    def of(cls, article: Article) -> ArticleView:
        return cls(
            id=article.id,
            title=article.title,
            body=article.body,
            tags=tuple(article.tags),
            source_ticket_id=article.source_ticket_id,
            author=article.author,
            revision=article.revision,
            published_at=article.published_at,
            unpublished_changes=article.unpublished_changes,
            version=article.version,
        )


def viewed(outcome: Outcome[A], view: Callable[[A], V]) -> Outcome[V]:
    """A command's outcome with its record as the view ``view`` makes of it."""
    return Outcome(view(outcome.value), outcome.replayed)
