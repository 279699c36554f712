"""The one command pipeline: idempotent, conditional, attributed commands on event-sourced records.

Every HTTP command a service runs is a ``Command``: its id (derived from the client's
``Idempotency-Key``), the fingerprint of its request, who issues it, the version of the record it
is conditional on (``If-Match`` or the body's ``expected_version``), and the correlation and
causation of the request. ``CommandRunner`` (a mixin of an eventsourcing ``Application``) runs it:

- the command's ``CommandReceipt`` is saved **in the same transaction** as the aggregates it
  changed, so either both exist or neither; receipts are kept apart from the domain's events;
- a retry finds the receipt and answers with the record as that command left it (``replayed``);
  a different request under the same key is refused (``IdempotencyKeyReused``, 422);
- a record not at the expected version is refused (``VersionConflict``, 412); without an expected
  version, a lost race for the next version is re-read and retried.

    class SalesApplication(CommandRunner, Application[UUID]): ...

    outcome = app.execute(command, "lead", load=lambda: app.lead(lead_id),
                          change=lambda lead: lead.qualify(...) or ())

The web side (``crm_platform.web.commands``) builds the ``Command`` from a request and answers an
``Outcome`` with the record's ETag and ``Idempotent-Replayed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from .context import current_context
from .errors import IdempotencyKeyReused, RecordNotFound, VersionConflict

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")

# A command without an expected version re-reads and retries when a concurrent writer won the
# race for the next version; with one, the lost race is the client's conflict to resolve.
WRITE_ATTEMPTS = 3
# The fingerprint of a command sent without a body (its retries send none either).
NO_BODY = "-"


def _correlation() -> str | None:
    ctx = current_context()
    return ctx.correlation_id if ctx else None


def _causation() -> str | None:
    ctx = current_context()
    return ctx.causation_id if ctx else None


@dataclass(frozen=True)
class Command:
    """Who asks, under which id (from the Idempotency-Key), on which version of the record."""

    command_id: UUID
    fingerprint: str
    actor: str
    expected_version: int | None = None
    correlation_id: str | None = field(default_factory=_correlation)
    causation_id: str | None = field(default_factory=_causation)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A command's result; ``replayed`` when a retry found the work already done."""

    value: T
    replayed: bool


class CommandReceipt(Aggregate):
    """That a command ran: its request's fingerprint and the record (at the version) it left."""

    id: UUID

    @event("Issued")
    def __init__(self, fingerprint: str, target_id: UUID, target_version: int) -> None:
        self.fingerprint = fingerprint
        self.target_id = target_id
        self.target_version = target_version


class WithoutRequestIds:
    """Mixed into an aggregate's ``Event`` base (``class Event(WithoutRequestIds,
    Aggregate.Event)``): its events are of version 2. Those of version 1 carried the request's
    fingerprint and command id to answer retries (a ``CommandReceipt`` does now); eventsourcing
    upcasts them as it reads, without those fields."""

    class_version: ClassVar[int] = 2
    request_fields: ClassVar[tuple[str, ...]] = ("fingerprint", "request_fingerprint", "command_id")

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        for name in cls.request_fields:
            state.pop(name, None)


class CommandRunner:
    """Mixin of an eventsourcing ``Application``: load, answer a retry, check the version,
    decide, and save the changes with the command's receipt."""

    repository: Repository[UUID]
    save: Callable[..., Any]

    # --- loading --------------------------------------------------------------------------------

    def load(self, kind: str, cls: type[A], record_id: UUID, version: int | None = None) -> A:
        """The record of ``cls`` with that id, or ``RecordNotFound`` (an id of another kind too)."""
        try:
            aggregate: Aggregate = self.repository.get(record_id, version=version)
        except AggregateNotFoundError:
            raise RecordNotFound(kind, record_id) from None
        if not isinstance(aggregate, cls):
            raise RecordNotFound(kind, record_id)
        return aggregate

    def find(self, cls: type[A], record_id: UUID) -> A | None:
        try:
            aggregate: Aggregate = self.repository.get(record_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    # --- idempotent, conditional commands ---------------------------------------------------------

    def create(
        self,
        command: Command,
        kind: str,
        build: Callable[[], Sequence[Aggregate]],
        *,
        made_before: Callable[[], Aggregate | None] | None = None,
    ) -> Outcome[Any]:
        """Save what ``build`` makes (the new record first) with the command's receipt.

        ``made_before`` finds the record a retried command made before receipts were kept (its
        id derived from the same key): without a receipt to compare, it is answered as a replay.
        """
        for _ in range(WRITE_ATTEMPTS):
            if (replay := self.replay(command)) is not None:
                return replay
            if made_before is not None and (made := made_before()) is not None:
                # Saved with its receipt since this command's first look: compared after all.
                return self.replay(command) or Outcome(made, replayed=True)
            created, *others = build()
            if self.commit(command, created, others):
                return Outcome(created, replayed=False)
        raise IntegrityError(f"{kind} of command {command.command_id} kept conflicting")

    def execute(
        self,
        command: Command,
        kind: str,
        load: Callable[[], A],
        change: Callable[[A], Sequence[Aggregate] | None],
    ) -> Outcome[A]:
        """Apply ``change`` to the loaded record (it may return other aggregates it touched) and
        save everything with the receipt, if the record is at the expected version."""
        for _ in range(WRITE_ATTEMPTS):
            if (replay := self.replay(command)) is not None:
                return replay
            record = load()
            expected = command.expected_version
            if expected is not None and expected != record.version:
                raise VersionConflict(record.id, expected, record.version, kind=kind)
            if self.commit(command, record, change(record) or ()):
                return Outcome(record, replayed=False)
        record = load()
        raise VersionConflict(record.id, command.expected_version, record.version, kind=kind)

    def commit(self, command: Command, record: Aggregate, others: Sequence[Aggregate]) -> bool:
        """False when a concurrent writer took a version first (nothing was saved)."""
        # eventsourcing's metaclass takes ``id`` for any aggregate declaring ``id: UUID``.
        receipt = CommandReceipt(  # type: ignore[call-arg]
            id=command.command_id,
            fingerprint=command.fingerprint,
            target_id=record.id,
            target_version=record.version,
        )
        try:
            self.save(record, *others, receipt)
        except IntegrityError:
            return False
        return True

    def replay(self, command: Command) -> Outcome[Any] | None:
        """The first answer to this command if it already ran; refused if its request differed."""
        receipt = self.find(CommandReceipt, command.command_id)
        if receipt is None:
            return None
        if receipt.fingerprint != command.fingerprint:
            raise IdempotencyKeyReused(f"command {command.command_id} had another request")
        record: Aggregate = self.repository.get(receipt.target_id, version=receipt.target_version)
        return Outcome(record, replayed=True)
