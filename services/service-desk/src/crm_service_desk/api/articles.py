"""HTTP commands and queries on the knowledge base."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.conditional import etag, expected_version
from crm_platform.web.idempotency import idempotency_key, idempotent_id, request_fingerprint
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import ArticleView, ServiceDeskApplication
from ..application.index import MAX_SEARCH_RESULTS
from .models import ArticleHit, ArticleHits, ArticleOut, DraftArticle, PublishArticle, ReviseArticle
from .tickets import REPLAYED_HEADER, IfMatch

Writer = Annotated[Principal, Depends(require_scopes("service-desk:write"))]
Reader = Annotated[Principal, Depends(require_scopes("service-desk:read"))]
# Publishing makes text visible to every customer: an editor's decision.
Publisher = Annotated[Principal, Depends(require_scopes("service-desk:admin"))]
IdempotencyKey = Annotated[str, idempotency_key]


def articles_router(app: ServiceDeskApplication) -> APIRouter:
    router = APIRouter(prefix="/articles", tags=["knowledge base"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=ArticleOut)
    def draft_article(
        body: DraftArticle,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> ArticleOut:
        """Draft an article, from scratch or from a resolved ticket (``source_ticket_id``)."""
        article_id = idempotent_id(
            key, scope="service-desk:draft-article", principal=principal.subject
        )
        outcome = app.draft_article(
            article_id,
            title=body.title,
            body=body.body,
            tags=body.tags,
            source_ticket_id=body.source_ticket_id,
            author=principal.subject,
            request_fingerprint=request_fingerprint(body),
        )
        response.headers["Location"] = str(
            request.url_for("get_article", article_id=str(article_id))
        )
        if outcome.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return _answer(response, outcome.value)

    @router.get("/search", response_model=ArticleHits)
    def search_articles(
        _: Reader,
        q: Annotated[str, Query(min_length=1, max_length=200, description="Keywords.")],
        limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_RESULTS)] = 10,
    ) -> ArticleHits:
        """Published articles matching every keyword ("quoted phrases", -excluded, or)."""
        hits = app.search_articles(q, limit)
        return ArticleHits(query=q, items=[ArticleHit.model_validate(h) for h in hits])

    @router.get("/{article_id}", response_model=ArticleOut)
    def get_article(article_id: UUID, response: Response, _: Reader) -> ArticleOut:
        return _answer(response, app.get_article(article_id))

    @router.patch("/{article_id}", response_model=ArticleOut)
    def revise_article(
        article_id: UUID,
        body: ReviseArticle,
        response: Response,
        _: Writer,
        if_match: IfMatch = None,
    ) -> ArticleOut:
        """Edit the draft; readers see the change once it is published again."""
        version = expected_version(if_match, body.expected_version)
        article = app.revise_article(
            article_id,
            title=body.title,
            body=body.body,
            tags=body.tags,
            expected_version=version,
        )
        return _answer(response, article)

    @router.post("/{article_id}/publication", response_model=ArticleOut)
    def publish_article(
        article_id: UUID,
        body: PublishArticle,
        response: Response,
        principal: Publisher,
        if_match: IfMatch = None,
    ) -> ArticleOut:
        """Publish the current text (again after edits); publishing it twice changes nothing."""
        version = expected_version(if_match, body.expected_version)
        article = app.publish_article(article_id, by=principal.subject, expected_version=version)
        return _answer(response, article)

    return router


def _answer(response: Response, article: ArticleView) -> ArticleOut:
    response.headers["ETag"] = etag(article.version)
    return ArticleOut.model_validate(article)
