"""HTTP commands and queries on the knowledge base."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm_platform.web.commands import IfMatch, answer, show
from crm_platform.web.conditional import expected_version
from crm_platform.web.idempotency import IdempotencyKey
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import NewArticle, ServiceDeskApplication
from ..application.index import MAX_SEARCH_RESULTS
from .http import Admin, Reader, Writer, creation, locate
from .models import ArticleHit, ArticleHits, ArticleOut, DraftArticle, PublishArticle, ReviseArticle


def articles_router(app: ServiceDeskApplication) -> APIRouter:
    router = APIRouter(prefix="/articles", tags=["knowledge base"], responses=PROBLEM_RESPONSES)
    present = ArticleOut.model_validate

    @router.post("", status_code=201, response_model=ArticleOut)
    def draft_article(
        body: DraftArticle,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> ArticleOut:
        """Draft an article, from scratch or from a resolved ticket (``source_ticket_id``)."""
        article_id, issued = creation(key, principal, body, operation="draft-article")
        outcome = app.draft_article(issued, article_id, NewArticle(**body.model_dump()))
        locate(request, response, "get_article", article_id=str(article_id))
        return answer(response, outcome, present)

    @router.get("/search", response_model=ArticleHits)
    def search_articles(
        _: Reader,
        q: Annotated[str, Query(min_length=1, max_length=200, description="Keywords.")],
        limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_RESULTS)] = 10,
    ) -> ArticleHits:
        """Published articles matching every keyword ("quoted phrases", -excluded, or): the
        best ``limit``, ranked (a search, not a list: it has no next page)."""
        hits = app.search_articles(q, limit)
        return ArticleHits(query=q, items=[ArticleHit.model_validate(h) for h in hits])

    @router.get("/{article_id}", response_model=ArticleOut)
    def get_article(article_id: UUID, response: Response, _: Reader) -> ArticleOut:
        return show(response, app.get_article(article_id), present)

    @router.patch("/{article_id}", response_model=ArticleOut)
    def revise_article(
        article_id: UUID,
        body: ReviseArticle,
        response: Response,
        _: Writer,
        if_match: IfMatch = None,
    ) -> ArticleOut:
        """Edit the draft; readers see the change once it is published again."""
        article = app.revise_article(
            article_id,
            title=body.title,
            body=body.body,
            tags=body.tags,
            expected_version=expected_version(if_match, body.expected_version),
        )
        return show(response, article, present)

    @router.post("/{article_id}/publication", response_model=ArticleOut)
    def publish_article(
        article_id: UUID,
        body: PublishArticle,
        response: Response,
        principal: Admin,
        if_match: IfMatch = None,
    ) -> ArticleOut:
        """Publish the current text (again after edits); publishing it twice changes nothing."""
        version = expected_version(if_match, body.expected_version)
        article = app.publish_article(article_id, by=principal.subject, expected_version=version)
        return show(response, article, present)

    return router
