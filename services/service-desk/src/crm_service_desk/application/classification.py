"""Inbound mail sorted as it arrives: the address it was sent to names a queue (complaints@ is
for complaints), and simple rules from the settings match words of its subject or body.

The queue's category comes first; then the rules, in order: the first rule that matches and
names a category sets it (unless the queue did), the first that matches and names a priority
sets that. What nothing sets stays the default: a normal question. Agents correct the rest
(``Ticket.reclassify``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field

from ..domain import Category, Priority
from .mail import InboundEmail


class MailRule(BaseModel):
    """Matches when any of ``words`` occurs in the subject or the body as a word or phrase of
    its own ("down" is not in "download"; case ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    words: tuple[str, ...] = Field(min_length=1)
    category: Category | None = None
    priority: Priority | None = None

    def matches(self, text: str) -> bool:
        return any(re.search(rf"\b{re.escape(word.casefold())}\b", text) for word in self.words)


@dataclass(frozen=True)
class MailClassifier:
    queues: Mapping[str, Category]  # an address of the service desk -> its category
    rules: Sequence[MailRule] = ()

    def classified(self, mail: InboundEmail) -> InboundEmail:
        category = self._queue_of(mail.recipients)
        priority = None
        text = f"{mail.subject}\n{mail.body}".casefold()
        for rule in self.rules:
            if rule.matches(text):
                category = category or rule.category
                priority = priority or rule.priority
        return replace(
            mail, category=category or Category.QUESTION, priority=priority or Priority.NORMAL
        )

    def _queue_of(self, recipients: Iterable[str]) -> Category | None:
        queues = {address.strip().lower(): category for address, category in self.queues.items()}
        return next((queues[r] for r in recipients if r in queues), None)
