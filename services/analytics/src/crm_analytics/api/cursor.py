"""Opaque timeline cursors: a position encoded so that clients do not build or parse it."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from crm_platform.text import find_unsafe
from crm_platform.values import within_range

from ..domain.timeline import Position


class InvalidCursor(ValueError):
    pass


def encode(position: Position) -> str:
    raw = json.dumps([position.occurred_at.isoformat(), position.entry_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, entry_id = json.loads(raw)
        position = Position(datetime.fromisoformat(occurred_at), str(entry_id))
    except (ValueError, TypeError, RecursionError) as error:
        raise InvalidCursor("the cursor is not one this API returned") from error
    # The entry id reaches the read model's query, which must never see a NUL.
    if position.occurred_at.tzinfo is None or find_unsafe(position.entry_id):
        raise InvalidCursor("the cursor is not one this API returned")
    if not within_range(position.occurred_at):  # compared with entries' times: no overflow
        raise InvalidCursor("the cursor is not one this API returned")
    return position
