"""The base of the service desk's Application and of its mixins: its store, clock, policy and
index, and what its commands share beside the platform's command pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from psycopg.conninfo import make_conninfo

from crm_platform.commands import WRITE_ATTEMPTS, CommandRunner
from crm_platform.privacy import Keyring, MemoryKeyring, PostgresKeyring, ShreddingApplication

from ..domain import RecordNotFound, SlaPolicy, VersionConflict, WorkingCalendar
from .index import Index

A = TypeVar("A", bound=Aggregate)

# The default SLA policy, as JSON (see ``SlaPolicy.from_dict``), in force until an administrator
# adopts one through the API; without it, weekdays 09:00-17:00 UTC.
SLA_POLICY_VARIABLE = "CRM_SERVICE_DESK_SLA_POLICY"


class ServiceDeskBase(CommandRunner, ShreddingApplication):
    name = "service_desk"
    default_policy: SlaPolicy  # the configured one, in force until one is adopted
    # The instants commands record; replaced in tests that travel in time.
    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.default_policy = load_policy(self.env.get(SLA_POLICY_VARIABLE))

    @cached_property
    def index(self) -> Index:
        """The index tables, created on first use. On PostgreSQL only: the in-memory store of
        the unit tests has none (a ``TypeError`` says so)."""
        return Index(self)

    def construct_keyring(self) -> Keyring:
        """A keyring of other services' data subjects (contacts' people), in this database."""
        dsn = self._dsn()
        return MemoryKeyring() if dsn is None else PostgresKeyring(dsn)

    # --- what commands share ----------------------------------------------------------------------

    def as_created(self, kind: str, cls: type[A], record_id: UUID) -> Callable[[], A | None]:
        """For ``create``'s ``made_before``: the record of a creation requested before receipts
        were kept apart (its id, like the command's, derived from the Idempotency-Key), as it was
        created; None when there is none."""

        def created() -> A | None:
            try:
                return self.load(kind, cls, record_id, cls.INITIAL_VERSION)
            except RecordNotFound:
                return None

        return created

    def decide_and_save(
        self, kind: str, cls: type[A], record_id: UUID, decide: Callable[[A], bool]
    ) -> tuple[A, bool]:
        """A change no client asked for (a breach found, an e-mail received, a customer
        identified): load the record, decide, and save what the decision recorded (False:
        nothing), deciding again on the new version when a concurrent writer got there first.
        The record, and whether anything was recorded."""
        for _ in range(WRITE_ATTEMPTS):
            record = self.load(kind, cls, record_id)
            if not decide(record):
                return record, False
            try:
                self.save(record)
            except IntegrityError:
                continue
            return record, True
        raise VersionConflict(record_id, None, self.load(kind, cls, record_id).version, kind=kind)

    def _dsn(self) -> str | None:
        """The database of the event store; None for the in-memory store of unit tests."""
        if self.env.get("PERSISTENCE_MODULE", "") != "eventsourcing.postgres":
            return None
        return make_conninfo(
            host=self.env.get("POSTGRES_HOST"),
            port=self.env.get("POSTGRES_PORT"),
            user=self.env.get("POSTGRES_USER"),
            password=self.env.get("POSTGRES_PASSWORD"),
            dbname=self.env.get("POSTGRES_DBNAME"),
        )


def load_policy(configured: str | None) -> SlaPolicy:
    if not configured:
        return SlaPolicy(WorkingCalendar.weekdays("UTC"))
    data: Any = json.loads(configured)
    return SlaPolicy.from_dict(data)
