"""The sales application on a fresh database of its own per test module (``app``) or per test
(``empty_app``, for a test that counts everything it finds), and Kafka settings with consumer
groups of each test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC


def settings(postgres_server: Any, database: str) -> PostgresSettings:
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=database,
    )


@pytest.fixture(scope="module")
def postgres(
    postgres_server: Any, fresh_database: Callable[[str], str], request: pytest.FixtureRequest
) -> PostgresSettings:
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    return settings(postgres_server, fresh_database(module))


@pytest.fixture(scope="module")
def app(postgres: PostgresSettings) -> Iterator[SalesApplication]:
    application = SPEC.build_application(postgres)
    yield application
    application.close()


@pytest.fixture
def empty_app(
    postgres_server: Any, fresh_database: Callable[[str], str]
) -> Iterator[SalesApplication]:
    application = SPEC.build_application(settings(postgres_server, fresh_database("sales")))
    yield application
    application.close()


@pytest.fixture
def kafka(
    kafka_bootstrap: str, unique_name: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> KafkaSettings:
    """The broker, and consumer groups of this test's own (a prefix read from the environment)."""
    monkeypatch.setenv("CRM_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("CRM_KAFKA_GROUP_PREFIX", unique_name("test") + ".")
    return KafkaSettings()
