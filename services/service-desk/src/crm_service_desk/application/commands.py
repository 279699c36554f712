"""The commands an agent (or the survey) gives on an existing ticket, as values.

A command names the ``Ticket`` method it runs and the request's values for it; the application
runs every one the same way (``TicketCommands.change_ticket``), adding who gives it (``by``) and
when (``at``). A message's id is its command's (derived from the Idempotency-Key): a retry of
the request finds its message recorded already.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ..domain import Ticket

# The methods that record a message, and so take its id.
RECORD_MESSAGES: frozenset[Callable[..., object]] = frozenset({Ticket.reply, Ticket.add_note})


@dataclass(frozen=True)
class TicketCommand:
    method: Callable[..., object]  # a method of Ticket, taking keywords only
    values: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, ticket: Ticket, *, command_id: UUID, by: str, at: datetime) -> None:
        """Decide on ``ticket`` (recording events on it) or raise why not."""
        ids = {"message_id": command_id} if self.method in RECORD_MESSAGES else {}
        self.method(ticket, **self.values, **ids, by=by, at=at)
