"""Knowledge-base events, topic ``crm.service-desk.article.v1``."""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event


@event
class ArticlePublished(EventData):
    """A knowledge-base article (or a new revision of it) became visible to customers and agents.

    Articles are the business's own text, not anyone's personal data, so they travel in clear."""

    event_type = "ArticlePublished"
    source_service = "service-desk"
    aggregate_type = "article"
    schema_version = 1

    article_id: UUID
    revision: int = Field(ge=1, description="Counts publications of the article.")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=50_000)
    tags: list[str] = Field(default_factory=list)
    source_ticket_id: UUID | None = Field(
        default=None, description="The resolved ticket the article was drafted from, if any."
    )
    published_by: str
    published_at: AwareDatetime
