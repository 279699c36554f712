"""The service-desk service's event-sourced application (its own PostgreSQL database).

One eventsourcing Application holds tickets and knowledge-base articles; its commands are grouped
by area in mixins. Its personal data (the requesters' texts) is sealed per ticket
(``ShreddingApplication``), and its index tables (``index``) sit in the same database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from psycopg.conninfo import make_conninfo

from crm_platform.privacy import Keyring, MemoryKeyring, PostgresKeyring, ShreddingApplication

from ..domain import Article, SlaPolicy, Ticket, WorkingCalendar
from .articles import ArticleCommands
from .index import ArticleRow, Index, MemoryIndex, PostgresIndex, TicketFilter, TicketRow
from .mail import InboundEmail
from .policies import PolicyCommands, PolicyView
from .tickets import TicketCommands
from .views import ArticleView, Outcome, SlaView, TicketPage, TicketView

# The default SLA policy, as JSON (see ``SlaPolicy.from_dict``), in force until an administrator
# adopts one through the API; without it, weekdays 09:00-17:00 UTC.
SLA_POLICY_VARIABLE = "CRM_SERVICE_DESK_SLA_POLICY"
CATCH_UP_BATCH = 500


class ServiceDeskApplication(TicketCommands, ArticleCommands, PolicyCommands, ShreddingApplication):
    name = "service_desk"
    default_policy: SlaPolicy  # the configured one, in force until one is adopted
    index: Index
    # The instants commands record; replaced in tests that travel in time.
    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))  # type: ignore[assignment]

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.default_policy = load_policy(self.env.get(SLA_POLICY_VARIABLE))
        self.index = self.construct_index()

    def construct_index(self) -> Index:
        dsn = self._dsn()
        return MemoryIndex() if dsn is None else PostgresIndex(dsn)

    def construct_keyring(self) -> Keyring:
        """A keyring of other services' data subjects (contacts' people), in this database."""
        dsn = self._dsn()
        return MemoryKeyring() if dsn is None else PostgresKeyring(dsn)

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

    def catch_up_index(self) -> int:
        """Bring the index up to the notification log; the number of notifications read.

        Commands update the index right after saving; this repairs what a crash in between
        left behind (run by the worker before each SLA check), so deadlines survive restarts."""
        read = 0
        while True:
            start = self.index.position() + 1
            notifications = self.recorder.select_notifications(start, CATCH_UP_BATCH)
            if not notifications:
                return read
            for aggregate_id in dict.fromkeys(n.originator_id for n in notifications):
                self._reindex(aggregate_id, _aggregate_class(notifications, aggregate_id))
            self.index.set_position(notifications[-1].id)
            read += len(notifications)

    def _reindex(self, aggregate_id: UUID, kind: str) -> None:
        if kind == Ticket.__name__:
            self.index.put_ticket(TicketRow.of(self._ticket(aggregate_id)))
        elif kind == Article.__name__ and (row := ArticleRow.of(self._article(aggregate_id))):
            self.index.put_article(row)

    def close(self) -> None:
        self.index.close()
        super().close()


def _aggregate_class(notifications: list[Notification], aggregate_id: UUID) -> str:
    """``Ticket`` from a topic such as ``crm_service_desk.domain.ticket:Ticket.Opened``."""
    topic = next(n.topic for n in notifications if n.originator_id == aggregate_id)
    return topic.partition(":")[2].split(".")[0]


def load_policy(configured: str | None) -> SlaPolicy:
    if not configured:
        return SlaPolicy(WorkingCalendar.weekdays("UTC"))
    data: Any = json.loads(configured)
    return SlaPolicy.from_dict(data)


__all__ = [
    "ArticleView",
    "InboundEmail",
    "Outcome",
    "PolicyView",
    "ServiceDeskApplication",
    "SlaView",
    "TicketFilter",
    "TicketPage",
    "TicketView",
]
