"""Consent per channel and purpose: each decision recorded, the latest one in force.

Decisions can arrive late (a paper form scanned a week after it was signed), so what is in force
for a channel and purpose is the decision made last (``decided_at``), not the one recorded last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

EVIDENCE_MAX_LENGTH = 2000

T = TypeVar("T")


class ContactChannel(StrEnum):
    """A way of reaching a person, which consent and preferences refer to."""

    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    POST = "post"
    MESSAGING = "messaging"


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"
    PROFILING = "profiling"
    RESEARCH = "research"
    THIRD_PARTY_SHARING = "third_party_sharing"


class ConsentSource(StrEnum):
    """How the decision reached the business."""

    WEB_FORM = "web_form"
    CALL = "call"
    EMAIL = "email"
    IN_PERSON = "in_person"
    PAPER_FORM = "paper_form"
    IMPORT = "import"
    API = "api"
    UNSUBSCRIBE_LINK = "unsubscribe_link"  # a marketing message's (one-click) unsubscribe link


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ConsentDecision:
    """One decision of the person; ``evidence`` is their personal data (``None`` once erased)."""

    decision_id: UUID
    channel: ContactChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    decided_at: datetime
    source: ConsentSource
    evidence: str | None
    customer_version: int

    @property
    def topic(self) -> tuple[ContactChannel, ConsentPurpose]:
        return self.channel, self.purpose


def _itself(entry: Any) -> ConsentDecision:
    return entry  # type: ignore[no-any-return]


def in_force(decisions: Iterable[T], decision: Callable[[T], ConsentDecision] = _itself) -> list[T]:
    """The decision in force per channel and purpose: the latest made (ties: the latest recorded),
    ordered by channel and purpose. ``decision`` finds it in entries that wrap one."""
    latest: dict[tuple[ContactChannel, ConsentPurpose], tuple[ConsentDecision, T]] = {}
    for entry in decisions:
        made = decision(entry)
        current = latest.get(made.topic)
        if current is None or made.decided_at >= current[0].decided_at:
            latest[made.topic] = (made, entry)
    return [latest[topic][1] for topic in sorted(latest)]
