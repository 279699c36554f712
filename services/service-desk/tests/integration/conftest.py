from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm_platform.settings import PostgresSettings


@pytest.fixture
def postgres(postgres_server: Any, fresh_database: Callable[[str], str]) -> PostgresSettings:
    """The servers' settings, pointing at a database of the test's own."""
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("service_desk"),
    )
