"""The marketing service's event-sourced application (its own PostgreSQL database: marketing).

One eventsourcing Application holds every marketing aggregate; its commands are grouped by area
in mixins (segments, campaigns, engagement, audience learning), each in its own module. It
records tracking positions with its events (exactly-once reactions) and seals personal data
with a key per person (crypto-shredding). Its audience index (``audience_index``) sits in the
same database, in memory under the unit tests' POPO store.
"""

from __future__ import annotations

from collections.abc import Mapping

from psycopg.conninfo import make_conninfo

from crm_platform.privacy import ShreddingApplication

from .audience import AudienceLearning
from .audience_index import AudienceIndex, MemoryAudienceIndex, PostgresAudienceIndex
from .common import Outcome


class MarketingApplication(AudienceLearning, ShreddingApplication):
    name = "marketing"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.audience_index = self.construct_audience_index()

    def construct_audience_index(self) -> AudienceIndex:
        if self.env.get("PERSISTENCE_MODULE", "") != "eventsourcing.postgres":
            return MemoryAudienceIndex()
        return PostgresAudienceIndex(
            make_conninfo(
                host=self.env.get("POSTGRES_HOST"),
                port=self.env.get("POSTGRES_PORT"),
                user=self.env.get("POSTGRES_USER"),
                password=self.env.get("POSTGRES_PASSWORD"),
                dbname=self.env.get("POSTGRES_DBNAME"),
            )
        )

    def close(self) -> None:
        self.audience_index.close()
        super().close()


__all__ = ["MarketingApplication", "Outcome"]
