"""What the pipeline commands share: loading, idempotent and conditional saving, transcodings.

Every HTTP command carries a ``Command``: its id (derived from the client's Idempotency-Key), the
fingerprint of its request, who issues it and the version it is conditional on. The command's
``CommandReceipt`` is saved in the same transaction as the aggregates it changes, so a retry
replays the first answer (the aggregate at the version that command left it in), and a different
request under the same key is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Tracking, Transcoding

from ..domain.errors import IdempotencyKeyReused, RecordNotFound, VersionConflict
from ..domain.pipeline import Stage
from ..domain.pipeline_receipts import CommandReceipt
from ..domain.scoring import Reason, ScoringRule

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")

# A command without an expected version re-reads and retries when a concurrent writer won the
# race for the next version; with one, the lost race is the client's conflict to resolve.
WRITE_ATTEMPTS = 3


@dataclass(frozen=True)
class Command:
    """Who asks, under which id (from the Idempotency-Key), on which version of the record."""

    command_id: UUID
    fingerprint: str
    actor: str
    expected_version: int | None = None


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A command's result; ``replayed`` when a retry found the work already done."""

    value: T
    replayed: bool


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _dataclass_transcoding(cls: type, stored_name: str) -> Transcoding:
    """Frozen dataclasses of the domain stored as their fields (names fixed: stored forever)."""

    class DataclassAsDict(Transcoding):
        type = cls
        name = stored_name

        def encode(self, obj: Any) -> dict[str, Any]:
            return dict(vars(obj))

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**data)

    return DataclassAsDict()


class PipelineStore:
    """Base of the pipeline mixins of SalesApplication (an eventsourcing Application)."""

    repository: Repository[UUID]
    save: Callable[..., Any]
    record_reaction: Callable[..., bool]

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)  # type: ignore[misc]
        transcoder.register(DateAsISO())
        transcoder.register(_dataclass_transcoding(Stage, "sales_pipeline_stage"))
        transcoder.register(_dataclass_transcoding(ScoringRule, "sales_scoring_rule"))
        transcoder.register(_dataclass_transcoding(Reason, "sales_score_reason"))

    # --- loading --------------------------------------------------------------------------------

    def _load(self, kind: str, cls: type[A], record_id: UUID, version: int | None = None) -> A:
        try:
            aggregate = self.repository.get(record_id, version=version)
        except AggregateNotFoundError:
            raise RecordNotFound(kind, record_id) from None
        if not isinstance(aggregate, cls):  # an id of another kind of record
            raise RecordNotFound(kind, record_id)
        return aggregate

    def _find(self, cls: type[A], record_id: UUID) -> A | None:
        try:
            aggregate = self.repository.get(record_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    # --- idempotent, conditional commands ---------------------------------------------------------

    def _create(
        self, command: Command, kind: str, build: Callable[[], Sequence[Aggregate]]
    ) -> Outcome[Any]:
        """Save what ``build`` makes (the new record first) with the command's receipt."""
        for _ in range(WRITE_ATTEMPTS):
            if (replay := self._replay(command)) is not None:
                return replay
            created, *others = build()
            if self._commit(command, created, others):
                return Outcome(created, replayed=False)
        raise IntegrityError(f"{kind} of command {command.command_id} kept conflicting")

    def _execute(
        self,
        command: Command,
        kind: str,
        load: Callable[[], A],
        change: Callable[[A], Sequence[Aggregate]],
    ) -> Outcome[A]:
        """Apply ``change`` to the loaded record (it returns other aggregates it touched) and
        save everything with the receipt, if the record is at the expected version."""
        for _ in range(WRITE_ATTEMPTS):
            if (replay := self._replay(command)) is not None:
                return replay
            record = load()
            expected = command.expected_version
            if expected is not None and expected != record.version:
                raise VersionConflict(kind, record.id, expected, record.version)
            if self._commit(command, record, change(record)):
                return Outcome(record, replayed=False)
        record = load()
        raise VersionConflict(kind, record.id, command.expected_version, record.version)

    def _commit(self, command: Command, record: Aggregate, others: Sequence[Aggregate]) -> bool:
        """False when a concurrent writer took a version first (nothing was saved)."""
        receipt = CommandReceipt(
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

    def _replay(self, command: Command) -> Outcome[Any] | None:
        receipt = self._find(CommandReceipt, command.command_id)
        if receipt is None:
            return None
        if receipt.fingerprint != command.fingerprint:
            raise IdempotencyKeyReused(f"command {command.command_id} had another request")
        record = self.repository.get(receipt.target_id, version=receipt.target_version)
        return Outcome(record, replayed=True)

    def _save_reaction(self, position: Tracking | None, *aggregates: Aggregate) -> None:
        """Save what a reaction to another service's event changed, with the event's position
        when the caller tracks positions (exactly-once), else as a plain save."""
        if position is None:
            self.save(*aggregates)
        else:
            self.record_reaction(position, *aggregates)
