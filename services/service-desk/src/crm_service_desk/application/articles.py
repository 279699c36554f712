"""Knowledge-base commands and queries. A mixin of the service desk's Application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ..domain import (
    Article,
    IdempotencyKeyReused,
    InvalidState,
    RecordNotFound,
    RuleViolation,
    Status,
    VersionConflict,
)
from .index import MAX_SEARCH_RESULTS, ArticleRow
from .views import ArticleView, Outcome

if TYPE_CHECKING:
    from . import ServiceDeskApplication


class ArticleCommands:
    def draft_article(
        self: ServiceDeskApplication,
        article_id: UUID,
        *,
        title: str | None,
        body: str | None,
        tags: list[str],
        source_ticket_id: UUID | None,
        author: str,
        request_fingerprint: str,
    ) -> Outcome[ArticleView]:
        """Draft once per id. From a resolved ticket, a missing title or body is taken from the
        ticket's subject and resolution, for the agent to edit before publishing."""
        drafted = self._article_at(article_id, Article.INITIAL_VERSION)
        if drafted is None:
            if source_ticket_id is not None:
                title, body = self._from_ticket(source_ticket_id, title, body)
            article = Article.draft(
                article_id,
                title=title or "",
                body=body or "",
                tags=tags,
                source_ticket_id=source_ticket_id,
                author=author,
                at=self.clock(),
                request_fingerprint=request_fingerprint,
            )
            try:
                self.save(article)
                return Outcome(ArticleView.of(article), replayed=False)
            except IntegrityError:
                drafted = self._article_at(article_id, Article.INITIAL_VERSION)
                assert drafted is not None
        if drafted.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(f"article {article_id} was drafted by another request")
        return Outcome(ArticleView.of(drafted), replayed=True)

    def revise_article(
        self: ServiceDeskApplication,
        article_id: UUID,
        *,
        title: str | None,
        body: str | None,
        tags: list[str] | None,
        expected_version: int | None,
    ) -> ArticleView:
        """Edit the draft (idempotent by content: the same edit again changes nothing)."""
        article = self._article_for_change(article_id, expected_version)
        if article.revise(title=title, body=body, tags=tags):
            self._save_article(article, expected_version)
        return ArticleView.of(article)

    def publish_article(
        self: ServiceDeskApplication, article_id: UUID, *, by: str, expected_version: int | None
    ) -> ArticleView:
        """Publish the current text (idempotent: publishing it again changes nothing)."""
        article = self._article_for_change(article_id, expected_version)
        if article.publish(by=by, at=self.clock()):
            self._save_article(article, expected_version)
        return ArticleView.of(article)

    def get_article(self: ServiceDeskApplication, article_id: UUID) -> ArticleView:
        return ArticleView.of(self._article(article_id))

    def search_articles(
        self: ServiceDeskApplication, query: str, limit: int = 10
    ) -> list[ArticleRow]:
        if not query.strip():
            raise RuleViolation("q", "give at least one keyword", location="query")
        self.index.catch_up()  # an article published a moment ago is found
        return self.index.search_articles(query, min(limit, MAX_SEARCH_RESULTS))

    # --- helpers ------------------------------------------------------------------------------

    def _from_ticket(
        self: ServiceDeskApplication, ticket_id: UUID, title: str | None, body: str | None
    ) -> tuple[str | None, str | None]:
        ticket = self._ticket(ticket_id)
        if ticket.status not in {Status.RESOLVED, Status.CLOSED}:
            raise InvalidState(f"ticket {ticket_id} is {ticket.status}: resolve it first")
        return title or ticket.subject, body or ticket.resolution

    def _article_for_change(
        self: ServiceDeskApplication, article_id: UUID, expected_version: int | None
    ) -> Article:
        article = self._article(article_id)
        if expected_version is not None and expected_version != article.version:
            raise VersionConflict(article_id, expected_version, article.version)
        return article

    def _save_article(
        self: ServiceDeskApplication, article: Article, expected_version: int | None
    ) -> None:
        try:
            self.save(article)
        except IntegrityError:
            actual = self._article(article.id).version
            raise VersionConflict(article.id, expected_version, actual) from None

    def _article(self: ServiceDeskApplication, article_id: UUID) -> Article:
        article = self._article_at(article_id, None)
        if article is None:
            raise RecordNotFound("article", article_id)
        return article

    def _article_at(
        self: ServiceDeskApplication, article_id: UUID, version: int | None
    ) -> Article | None:
        try:
            found: Any = self.repository.get(article_id, version=version)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Article) else None
