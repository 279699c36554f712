"""How every command on a contacts record is carried out: replay, precondition, decide, save.

The command mixins of ``ContactsApplication`` share this one loop, so idempotency, optimistic
concurrency and the retry after a lost race behave the same for people and organizations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from crm_platform.privacy import ShreddingApplication

from ..domain import (
    CustomFieldCatalog,
    IdempotencyKeyReused,
    RecordKind,
    VersionConflict,
    catalog_id,
)
from ..domain.custom_fields import Definitions
from ..domain.record import CommandLog

# A command without an expected version re-reads and retries when a concurrent writer won the
# race for the next version; with one, the lost race is the client's conflict to resolve.
WRITE_ATTEMPTS = 3


R = TypeVar("R", bound=Aggregate)
A = TypeVar("A", bound=Aggregate)


def by_command(command_id: UUID, request_fingerprint: str) -> Callable[[CommandLog], int | None]:
    """``_run``'s ``replayed`` for commands identified by an id (from an Idempotency-Key)."""
    return lambda record: record.replayed_version(command_id, request_fingerprint)


class CommandRunner(ShreddingApplication):
    """The contacts store: people's personal data sealed with keys of their own."""

    def _register(
        self, kind: type[A], record_id: UUID, create: Callable[[], A], request_fingerprint: str
    ) -> tuple[A, bool]:
        """Create a record once per id; a retry of the same request gets the first version back
        (its answer then), the same id with another request is a reused idempotency key."""
        first = self._first_version(record_id, kind)
        if first is None:
            record = create()
            try:
                self.save(record)
                return record, False
            except IntegrityError:  # a concurrent retry of the registration saved it first
                first = self._first_version(record_id, kind)
                assert first is not None
        if first.request_fingerprint != request_fingerprint:  # type: ignore[attr-defined]
            raise IdempotencyKeyReused(f"{record_id} was registered by another request")
        return first, True

    def _first_version(self, record_id: UUID, kind: type[A]) -> A | None:
        if not self._exists(record_id, kind):
            return None
        return self.repository.get(record_id, version=kind.INITIAL_VERSION)  # type: ignore[no-any-return]

    def _run(
        self,
        load: Callable[[], R],
        *,
        replayed: Callable[[R], int | None],
        expected_version: int | None,
        decide: Callable[[R], Sequence[Aggregate] | None],
    ) -> tuple[R, bool]:
        """Carry out a command on the record ``load`` reads: the record as the command left it,
        and whether this was a retry of a command carried out already (nothing recorded then).

        ``replayed`` tells the version a command carried out already produced. ``decide`` calls
        the record's command methods and returns the other aggregates it changed, saved in the
        same transaction; it records nothing when nothing changes.
        """
        for _ in range(WRITE_ATTEMPTS):
            record = load()
            version = replayed(record)
            if version is not None:
                return self.repository.get(record.id, version=version), True
            if expected_version is not None and expected_version != record.version:
                raise VersionConflict(record.id, expected_version, record.version)
            others = decide(record) or ()
            try:
                self.save(record, *others)  # type: ignore[arg-type]
            except IntegrityError:
                continue  # re-read: a replay, a conflict, or a retry of an unconditional write
            return record, False
        current = load()
        raise VersionConflict(current.id, expected_version, current.version)

    def _get(self, record_id: UUID, kind: type[A], missing: Callable[[UUID], Exception]) -> A:
        """The record of type ``kind`` with this id; ``missing(record_id)`` raised if none."""
        try:
            record = self.repository.get(record_id)
        except AggregateNotFoundError:
            raise missing(record_id) from None
        if not isinstance(record, kind):  # ids of other kinds of record are unknown here
            raise missing(record_id)
        return record

    def _exists(self, record_id: UUID, kind: type[Aggregate]) -> bool:
        try:
            self._get(record_id, kind, LookupError)
        except LookupError:
            return False
        return True

    def custom_field_definitions(self, kind: RecordKind) -> Definitions:
        catalog = self._catalog(kind)
        return {} if catalog is None else catalog.definitions

    def _catalog(self, kind: RecordKind) -> CustomFieldCatalog | None:
        try:
            return self.repository.get(catalog_id(kind))
        except AggregateNotFoundError:
            return None
