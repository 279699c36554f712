"""The platform started as processes, isolated per test session.

Each session gets its own PostgreSQL database, MongoDB database and consumer-group prefix on the
shared real servers, so it neither sees nor disturbs a running `make up` or another test run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_platform.testing import ServiceProcess, free_port
from tests.e2e.drills import FIGURES, Platform, start_platform


@pytest.fixture(scope="session")
def platform_env(
    postgres_server, kafka_bootstrap: str, mongo_uri: str, fresh_database, tmp_path_factory
) -> dict[str, str]:
    state = tmp_path_factory.mktemp("state")
    env = {
        **postgres_server.env(),
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_contacts"),
        "CRM_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CRM_KAFKA_GROUP_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}.",
        "CRM_MONGODB_URI": mongo_uri,
        "CRM_MONGODB_DATABASE": f"e2e_{uuid.uuid4().hex[:8]}",
        "CRM_STATE_DIR": str(state),
    }
    os.environ["CRM_STATE_DIR"] = str(state)  # tokens minted here must match the processes' key
    return env


@pytest.fixture(scope="session")
def started_processes() -> list[ServiceProcess]:
    return []


@pytest.fixture(scope="session")
def start(
    platform_env: dict[str, str], tmp_path_factory, started_processes: list[ServiceProcess]
) -> Iterator[Callable[..., ServiceProcess]]:
    logs: Path = tmp_path_factory.mktemp("logs")

    def start_process(command: str, http: bool = False) -> ServiceProcess:
        process = ServiceProcess(command, platform_env, logs, free_port() if http else None)
        started_processes.append(process.start())
        return process

    yield start_process
    for process in started_processes:
        process.stop()


@pytest.fixture(scope="module", autouse=True)
def stop_what_the_module_started(started_processes: list[ServiceProcess]) -> Iterator[None]:
    """The processes a module starts stop when it ends (set up first, so torn down after the
    module's own fixtures): a session of every module's processes at once ran PostgreSQL out of
    connections."""
    before = len(started_processes)
    yield
    for process in started_processes[before:]:
        process.stop()
    del started_processes[before:]


@pytest.fixture(scope="session")
def token(platform_env: dict[str, str]) -> str:
    from crm_platform.devtoken import issue_token

    return issue_token(["contacts:read", "contacts:write", "analytics:read"], "e2e@crm.local")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "drill: stops shared servers (Kafka, PostgreSQL, MongoDB-wire); runs last"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The fault drills stop the servers every other test uses: they run after all of them. The
    # other tests of the whole platform run just before, so that its fourteen processes are not
    # left idling (on two cores) through the rest of the session.
    items.sort(
        key=lambda item: (
            item.get_closest_marker("drill") is not None,
            "whole_platform" in getattr(item, "fixturenames", ()),
        )
    )


@pytest.fixture(scope="session")
def all_scopes_token(platform_env: dict[str, str]) -> str:
    from crm_platform.devtoken import issue_token
    from crm_platform.web.auth import KNOWN_SCOPES

    return issue_token(list(KNOWN_SCOPES), "e2e-all@crm.local", ttl=4 * 3600)


@pytest.fixture(scope="session")
def whole_platform(
    platform_env: dict[str, str], fresh_database, all_scopes_token: str, tmp_path_factory
) -> Iterator[Platform]:
    """Every process of every service, with consumer groups and a MongoDB database of its own
    (so that no other test's worker shares its partitions), for the fuzzing, poison and drills."""
    env = platform_env | {
        "CRM_KAFKA_GROUP_PREFIX": f"e2e-all-{uuid.uuid4().hex[:8]}.",
        "CRM_MONGODB_DATABASE": f"e2e_all_{uuid.uuid4().hex[:8]}",
    }
    logs: Path = tmp_path_factory.mktemp("platform-logs")
    platform = start_platform(env, fresh_database, logs, all_scopes_token)
    yield platform
    platform.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures of the fuzzing, poison and drill tests, in every run's output (CI's too)."""
    if FIGURES:
        terminalreporter.write_sep("=", "robustness figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
