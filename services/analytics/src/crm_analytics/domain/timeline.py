"""Serving a customer's timeline newest first, one page at a time.

Pages are cut by position (occurred-at time, then entry id), not by offset, so an entry recorded
while a reader pages (an older interaction logged late, say) neither repeats nor shifts entries
across pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .customer_360 import Document


@dataclass(frozen=True, order=True)
class Position:
    occurred_at: datetime
    entry_id: str


@dataclass(frozen=True)
class Page:
    entries: list[Document]
    next: Position | None  # where the following page starts; None on the last page


def position(entry: Document) -> Position:
    return Position(entry["occurred_at"], entry["id"])


def newest_first(entries: Iterable[Document], *, limit: int, before: Position | None) -> Page:
    """Up to ``limit`` entries older than ``before`` (or the newest ones), newest first."""
    ordered = sorted(entries, key=position, reverse=True)
    if before is not None:
        ordered = [entry for entry in ordered if position(entry) < before]
    chosen = ordered[:limit]
    return Page(chosen, position(chosen[-1]) if len(ordered) > limit else None)
