from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_contacts.application import ContactsApplication
from crm_contacts.bootstrap import build_application
from crm_platform.commands import Command
from crm_platform.settings import PostgresSettings


@pytest.fixture(scope="module")
def postgres(postgres_server: Any, fresh_database: Callable[[str], str]) -> PostgresSettings:
    """The servers' settings, pointing at a database of this test module's own."""
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("contacts"),
    )


@pytest.fixture(scope="module")
def application(postgres: PostgresSettings) -> Iterator[ContactsApplication]:
    app = build_application(postgres)
    yield app
    app.close()


def command(
    command_id: UUID | None = None, *, fingerprint: str = "r", expected_version: int | None = None
) -> Command:
    """A command as the API makes it of a request (its id from the request's key)."""
    return Command(
        command_id=command_id or uuid4(),
        fingerprint=fingerprint,
        actor="test",
        expected_version=expected_version,
    )
