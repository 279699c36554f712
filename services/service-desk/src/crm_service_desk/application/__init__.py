"""The service-desk service's event-sourced application (its own PostgreSQL database).

One eventsourcing Application holds tickets and knowledge-base articles; its commands are grouped
by area in mixins. Its personal data (the requesters' texts) is sealed per ticket
(``ShreddingApplication``), and its index tables (``index``, a local projection of its
notification log) sit in the same database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from psycopg.conninfo import make_conninfo

from crm_platform.privacy import Keyring, MemoryKeyring, PostgresKeyring, ShreddingApplication

from ..domain import SlaPolicy, WorkingCalendar
from .articles import ArticleCommands
from .index import Index, TicketFilter
from .mail import InboundEmail
from .policies import PolicyCommands, PolicyView
from .tickets import TicketCommands
from .views import ArticleView, Outcome, SlaView, TicketPage, TicketView

# The default SLA policy, as JSON (see ``SlaPolicy.from_dict``), in force until an administrator
# adopts one through the API; without it, weekdays 09:00-17:00 UTC.
SLA_POLICY_VARIABLE = "CRM_SERVICE_DESK_SLA_POLICY"


class ServiceDeskApplication(TicketCommands, ArticleCommands, PolicyCommands, ShreddingApplication):
    name = "service_desk"
    default_policy: SlaPolicy  # the configured one, in force until one is adopted
    # The instants commands record; replaced in tests that travel in time.
    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))  # type: ignore[assignment]

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
