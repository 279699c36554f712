"""Knowledge-base commands and queries. A mixin of the service desk's Application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from crm_platform.commands import Command, Outcome

from ..domain import Article, InvalidState, RuleViolation, Status, Ticket, VersionConflict
from .base import ServiceDeskBase
from .index import MAX_SEARCH_RESULTS, ArticleRow
from .views import ArticleView, viewed

ARTICLE = "article"


@dataclass(frozen=True)
class NewArticle:
    """A draft as requested: a missing title or body is taken from the source ticket's."""

    title: str | None
    body: str | None
    tags: list[str]
    source_ticket_id: UUID | None


class ArticleCommands(ServiceDeskBase):
    def draft_article(
        self, command: Command, article_id: UUID, new: NewArticle
    ) -> Outcome[ArticleView]:
        """Draft once per command. From a resolved ticket, a missing title or body is taken from
        the ticket's subject and resolution, for the agent to edit before publishing."""

        def draft() -> Article:
            title, body = new.title, new.body
            if new.source_ticket_id is not None:
                title, body = self._from_ticket(new.source_ticket_id, title, body)
            return Article.draft(
                article_id,
                title=title or "",
                body=body or "",
                tags=new.tags,
                source_ticket_id=new.source_ticket_id,
                author=command.actor,
                at=self.clock(),
            )

        made_before = self.as_created(ARTICLE, Article, article_id)
        outcome = self.create(command, ARTICLE, lambda: [draft()], made_before=made_before)
        return viewed(outcome, ArticleView.of)

    def revise_article(
        self,
        article_id: UUID,
        *,
        title: str | None,
        body: str | None,
        tags: list[str] | None,
        expected_version: int | None,
    ) -> ArticleView:
        """Edit the draft (idempotent by content: the same edit again changes nothing)."""
        return self._change_article(
            article_id, expected_version, lambda a: a.revise(title=title, body=body, tags=tags)
        )

    def publish_article(
        self, article_id: UUID, *, by: str, expected_version: int | None
    ) -> ArticleView:
        """Publish the current text (idempotent: publishing it again changes nothing)."""
        return self._change_article(
            article_id, expected_version, lambda a: a.publish(by=by, at=self.clock())
        )

    def get_article(self, article_id: UUID) -> ArticleView:
        return ArticleView.of(self.load(ARTICLE, Article, article_id))

    def search_articles(self, query: str, limit: int = 10) -> list[ArticleRow]:
        if not query.strip():
            raise RuleViolation("q", "give at least one keyword", location="query")
        self.index.catch_up()  # an article published a moment ago is found
        return self.index.search_articles(query, min(limit, MAX_SEARCH_RESULTS))

    # --- helpers ------------------------------------------------------------------------------

    def _from_ticket(
        self, ticket_id: UUID, title: str | None, body: str | None
    ) -> tuple[str | None, str | None]:
        ticket = self.load("ticket", Ticket, ticket_id)
        if ticket.status not in {Status.RESOLVED, Status.CLOSED}:
            raise InvalidState(f"ticket {ticket_id} is {ticket.status}: resolve it first")
        return title or ticket.subject, body or ticket.resolution

    def _change_article(
        self, article_id: UUID, expected_version: int | None, change: Callable[[Article], bool]
    ) -> ArticleView:
        """An edit idempotent by its content, so it needs no Idempotency-Key: ``change``
        returns False when it changes nothing (then nothing is saved)."""
        article = self.load(ARTICLE, Article, article_id)
        if expected_version is not None and expected_version != article.version:
            raise VersionConflict(article_id, expected_version, article.version, kind=ARTICLE)
        if change(article):
            try:
                self.save(article)
            except IntegrityError:
                actual = self.load(ARTICLE, Article, article_id).version
                raise VersionConflict(article_id, expected_version, actual, kind=ARTICLE) from None
        return ArticleView.of(article)
