"""Analytics' part of a person's subject-access request (``crm_platform.subject_access``).

The person's 360 document (profile, consents, merges, interaction figures) and every entry of
their timeline, their personal values opened with the analytics keyring, and their scores
(lifetime value, RFM, churn risk). A person analytics erased is answered with nothing: its copies
of their data are sealed with a key it forgot.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from faststream.kafka import KafkaBroker

from crm_events.subject_access import Sections
from crm_platform.privacy import Keyring
from crm_platform.read_models import Document
from crm_platform.subject_access import as_json, subscribe_subject_access

from ..application.erasure import ErasureConfirmations
from ..application.metrics_scores import CustomerScores
from ..application.opening import (
    Opener,
    Openers,
    current_consents,
    open_entries,
    open_profile,
)
from ..read_models.customer_360 import Customer360Reads, Position, active_merges

SERVICE = "analytics"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
SUBJECT_ACCESS_GROUP = "analytics.subject-access"
TIMELINE_PAGE = 500
# Bookkeeping of the stored documents, nothing about the person.
_INTERNAL = ("_id", "outbox", "outbox_pending", "sealed")


class SubjectAccess:
    def __init__(
        self,
        reads: Customer360Reads,
        keyring: Keyring,
        scores: CustomerScores,
        erasures: ErasureConfirmations,
    ) -> None:
        self.reads = reads
        self.keyring = keyring
        self.scores = scores
        self.erasures = erasures

    async def held_about(self, customer_id: UUID) -> Sections:
        subject = str(customer_id)
        if await self.erasures.collection.find_one({"_id": subject}) is not None:
            return {}
        opener = Opener(self.keyring, customer_id)
        document = await self.reads.get(subject)
        scores = await self.scores.get(subject)
        sections: Sections = {
            "customer_360": [] if document is None else [await _customer(document, opener)],
            "timeline": await self._timeline(subject),
            "scores": [] if scores is None else [_public(scores)],
        }
        return sections

    async def _timeline(self, subject: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        before: Position | None = None
        while True:
            page = await self.reads.page(
                subject, kind=None, channel=None, before=before, limit=TIMELINE_PAGE
            )
            opened = await open_entries(page.entries, Openers(self.keyring))
            entries += [_public(entry) for entry in opened]
            if page.next is None:
                return entries
            before = page.next


async def _customer(document: Document, opener: Opener) -> dict[str, Any]:
    return _public(
        {
            "customer_id": document["customer_id"],
            "profile": await open_profile(document, opener),
            "consents": current_consents(document.get("consent_decisions", [])),
            "merges": active_merges(document.get("merges", [])),
            "interaction_count": document.get("interaction_count", 0),
            "last_interaction_at": document.get("last_interaction_at"),
            "erased_at": document.get("erased_at"),
        }
    )


def _public(document: Document) -> dict[str, Any]:
    kept: dict[str, Any] = as_json({k: v for k, v in document.items() if k not in _INTERNAL})
    return kept


def subscribe_subject_access_requests(
    broker: KafkaBroker, subject_access: SubjectAccess, *, group_id: str
) -> None:
    subscribe_subject_access(
        broker, service=SERVICE, gather=subject_access.held_about, group_id=group_id
    )
