"""What every record (person, organization) keeps of the commands it carried out.

Each command is given an id derived from the client's Idempotency-Key and the fingerprint of its
request; the record keeps both with the version the command produced. A retry is then answered
as the first attempt was, and the same key sent with another request is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from .errors import IdempotencyKeyReused


@dataclass(frozen=True)
class Processed:
    """A command carried out: its request's fingerprint and the version it produced."""

    request_fingerprint: str
    version: int


class CommandLog:
    """Mixed into aggregates: the commands they carried out, by id. The creating event's body
    sets ``commands``; each command's event body calls ``_processed``."""

    commands: dict[UUID, Processed]
    version: int

    def replayed_version(self, command_id: UUID, request_fingerprint: str) -> int | None:
        """The version command ``command_id`` produced, if it was carried out already."""
        processed = self.commands.get(command_id)
        if processed is None:
            return None
        if processed.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(f"command {command_id} was another request")
        return processed.version

    def _processed(self, command_id: UUID, request_fingerprint: str) -> None:
        # Event bodies run before the library bumps the version.
        self.commands[command_id] = Processed(request_fingerprint, self.version + 1)
