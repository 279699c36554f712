from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest

from crm_events.personal import Sealed, new_key, seal
from crm_marketing.application import MarketingApplication
from crm_marketing.bootstrap import build_application
from crm_platform.privacy import PostgresKeyring
from crm_platform.settings import PostgresSettings

from ..feed import Feed


@pytest.fixture
def postgres(postgres_server: Any, fresh_database: Callable[[str], str]) -> PostgresSettings:
    """The server's settings, pointing at a database of this test's own."""
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("marketing"),
    )


class SealingPostgresKeyring(PostgresKeyring):
    """Marketing's keyring in its database, sealing values the way contacts does."""

    def seal(self, value: Any, subject: UUID) -> Sealed:
        known = self.load(subject)
        key = None if known is None else known[1]
        if key is None:
            key = new_key()
            self.store(subject, key)
        return seal(value, key=key, subject=subject)


@pytest.fixture
def application(postgres: PostgresSettings) -> Iterator[MarketingApplication]:
    app = build_application(postgres)
    yield app
    app.close()


@pytest.fixture
def keyring(postgres: PostgresSettings) -> Iterator[SealingPostgresKeyring]:
    keyring = SealingPostgresKeyring(postgres.dsn(postgres.database or "marketing"))
    yield keyring
    keyring.close()


@pytest.fixture
def feed(application: MarketingApplication, keyring: SealingPostgresKeyring) -> Feed:
    return Feed(application, keyring)
