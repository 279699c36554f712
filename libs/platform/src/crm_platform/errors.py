"""What a domain refuses, in the business's words: the one error vocabulary of every service.

Each service's domain errors are these classes or derive from them, and an API made by
``create_api`` answers each with its RFC 9457 problem in one place (``web.problems``); the
docstrings name the status. Pure Python, so aggregates and value objects may raise them.
"""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """Base of every refusal a service raises on purpose: the client's to resolve, never a 500.

    Raise one of the classes below; a refusal of no class below is answered 409 Conflict.
    """


class RecordNotFound(DomainError, LookupError):
    """No ``kind`` of record (``customer``, ``lead``, ``ticket``...) has this id: 404 Not Found."""

    def __init__(self, kind: str, record_id: object, message: str | None = None) -> None:
        super().__init__(message or f"{kind} {record_id} not found")
        self.kind = kind
        self.record_id = record_id


class VersionConflict(DomainError):
    """The record changed since the version the command was based on: 409 Conflict, type
    ``version-conflict``, naming the record and its ``current_version`` to reload and retry."""

    def __init__(
        self, record_id: object, expected: int | None, actual: int, *, kind: str = "record"
    ) -> None:
        super().__init__(f"{kind} {record_id} is at version {actual}, not {expected}")
        self.kind = kind
        self.record_id = record_id
        self.expected = expected
        self.actual = actual


class InvalidState(DomainError):
    """The record exists, but its state does not allow the command (a won opportunity moved, a
    closed ticket replied to): 409 Conflict, type ``invalid-state``."""


class RuleViolation(DomainError, ValueError):
    """Input that breaks a business rule: 422, naming the input at fault ``<location>.<field>``.

    ``field`` names nested inputs with dots and list indexes, as validation errors do
    (``emails.0.address``); ``location`` is where the request carried it (``body``, ``query``).
    """

    def __init__(self, field: str, detail: str, *, location: str = "body") -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
        self.location = location


class IdempotencyKeyReused(DomainError):
    """A command's Idempotency-Key first came with a different request: 422 naming
    ``header.Idempotency-Key``."""


class RecordErased(DomainError):
    """The person's personal data was erased (crypto-shredded): nothing about them can be shown
    or changed any more. 410 Gone, type ``erased``, with ``erased_at``."""

    def __init__(self, kind: str, record_id: object, erased_at: datetime) -> None:
        super().__init__(f"{kind} {record_id} was erased at {erased_at.isoformat()}")
        self.kind = kind
        self.record_id = record_id
        self.erased_at = erased_at


class RecordMerged(DomainError):
    """The record was merged into ``survivor_id``, which answers for both (until an unmerge):
    307 Temporary Redirect to the same path with the survivor's id, type ``merged``."""

    def __init__(self, kind: str, record_id: object, survivor_id: object) -> None:
        super().__init__(f"{kind} {record_id} was merged into {survivor_id}")
        self.kind = kind
        self.record_id = record_id
        self.survivor_id = survivor_id
