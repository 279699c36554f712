"""The Article aggregate: a knowledge-base answer, drafted (also from a resolved ticket), edited,
published, and searched by customers and agents."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.commands import WithoutRequestIds

from .errors import RuleViolation
from .values import SUBJECT_MAX_LENGTH, required_text

ARTICLE_BODY_MAX_LENGTH = 50_000
TAG_MAX_LENGTH = 50
MAX_TAGS = 20


def tags_of(tags: list[str]) -> list[str]:
    """Lower-case, de-duplicated, order kept."""
    cleaned = [required_text("tags", tag, TAG_MAX_LENGTH).lower() for tag in tags]
    if len(cleaned) > MAX_TAGS:
        raise RuleViolation("tags", f"at most {MAX_TAGS} tags")
    return list(dict.fromkeys(cleaned))


class Article(Aggregate):
    id: UUID

    class Event(WithoutRequestIds, Aggregate.Event):
        """Base of the article's events (of version 2: see ``WithoutRequestIds``)."""

    # The event classes the ``@event`` decorators below make, declared for the type checker.
    Published: ClassVar[type[Event]]

    @classmethod
    def draft(
        cls,
        article_id: UUID,
        *,
        title: str,
        body: str,
        tags: list[str],
        source_ticket_id: UUID | None,
        author: str,
        at: datetime,
    ) -> Article:
        article: Article = cls(
            id=article_id,
            title=required_text("title", title, SUBJECT_MAX_LENGTH),
            body=required_text("body", body, ARTICLE_BODY_MAX_LENGTH),
            tags=tags_of(tags),
            source_ticket_id=source_ticket_id,
            author=author,
            at=at,
        )
        return article

    @event("Drafted")
    def __init__(
        self,
        title: str,
        body: str,
        tags: list[str],
        source_ticket_id: UUID | None,
        author: str,
        at: datetime,
    ) -> None:
        self.title = title
        self.body = body
        self.tags = tags
        self.source_ticket_id = source_ticket_id
        self.author = author
        self.drafted_at = at
        self.revision = 0  # publications so far
        self.published_at: datetime | None = None
        # Edited since its last publication: what readers see is not what the draft says.
        self.unpublished_changes = True

    def revise(self, *, title: str | None, body: str | None, tags: list[str] | None) -> bool:
        """Edit the draft; False (no event) when nothing changes."""
        title = self.title if title is None else required_text("title", title, SUBJECT_MAX_LENGTH)
        body = self.body if body is None else required_text("body", body, ARTICLE_BODY_MAX_LENGTH)
        tags = self.tags if tags is None else tags_of(tags)
        if (title, body, tags) == (self.title, self.body, self.tags):
            return False
        self._revised(title=title, body=body, tags=tags)
        return True

    @event("Revised")
    def _revised(self, title: str, body: str, tags: list[str]) -> None:
        self.title, self.body, self.tags = title, body, tags
        self.unpublished_changes = True

    def publish(self, *, by: str, at: datetime) -> bool:
        """Publish the current text; False (no event) when it is published already."""
        if not self.unpublished_changes:
            return False
        # The event carries the published text: the relay translates it without the article.
        self._published(
            revision=self.revision + 1,
            title=self.title,
            body=self.body,
            tags=self.tags,
            source_ticket_id=self.source_ticket_id,
            by=by,
            at=at,
        )
        return True

    @event("Published")
    def _published(
        self,
        revision: int,
        title: str,
        body: str,
        tags: list[str],
        source_ticket_id: UUID | None,
        by: str,
        at: datetime,
    ) -> None:
        self.revision = revision
        self.published_at = at
        self.published_by = by
        self.unpublished_changes = False
