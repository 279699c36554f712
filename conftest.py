"""Shared fixtures: the real servers integration and end-to-end tests talk to.

Servers are found through the environment variables that ``scripts/infra/env.sh`` exports
(``make test`` sets them). When none is named and a Docker engine answers, testcontainers starts
the official images instead. When neither is available the tests are skipped on a developer's
machine and FAIL in CI (``CI`` set), so a missing server can never pass as skipped tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache

import pytest


def _unavailable(what: str) -> None:
    message = f"{what} is not available: run `make infra` (or set the CRM_* variables)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; in CI a missing server is a failure", pytrace=False)
    pytest.skip(message)


@cache
def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def _containers() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def dsn(self, database: str) -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={database}"
        )

    def env(self) -> dict[str, str]:
        return {
            "CRM_POSTGRES_HOST": self.host,
            "CRM_POSTGRES_PORT": str(self.port),
            "CRM_POSTGRES_USER": self.user,
            "CRM_POSTGRES_PASSWORD": self.password,
        }


@pytest.fixture(scope="session")
def postgres_server(_containers: ExitStack) -> PostgresServer:
    if host := os.environ.get("CRM_POSTGRES_HOST"):
        return PostgresServer(
            host=host,
            port=int(os.environ.get("CRM_POSTGRES_PORT", "5432")),
            user=os.environ.get("CRM_POSTGRES_USER", "crm"),
            password=os.environ.get("CRM_POSTGRES_PASSWORD", "crm"),
        )
    if not _docker_answers():
        _unavailable("PostgreSQL")
    from testcontainers.community.postgres import PostgresContainer

    container = _containers.enter_context(
        PostgresContainer("postgres:16-alpine", username="crm", password="crm")
    )
    return PostgresServer(
        container.get_container_host_ip(), int(container.get_exposed_port(5432)), "crm", "crm"
    )


@pytest.fixture(scope="session")
def kafka_bootstrap(_containers: ExitStack) -> str:
    if servers := os.environ.get("CRM_KAFKA_BOOTSTRAP_SERVERS"):
        return servers
    if not _docker_answers():
        _unavailable("Kafka")
    container = _containers.enter_context(kafka_container())
    return f"{container.get_container_host_ip()}:{container.kafka_host_port}"


KAFKA_IMAGE = "apache/kafka:4.1.1"  # the image docker-compose.yml runs


def kafka_environment(host_port: int) -> dict[str, str]:
    """A single-node KRaft broker (broker and controller in one process) advertising the host port.

    testcontainers' ``KafkaContainer.with_kraft()`` configures Confluent images only (it refuses
    the Apache image's version number), so the official image is configured as its documentation
    says: explicit roles, listeners and replication factors of 1.
    """
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{host_port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_NUM_PARTITIONS": "3",
    }


def kafka_container():  # type: ignore[no-untyped-def]
    """The Apache Kafka image in KRaft mode, its listener bound to a free host port (the
    advertised address must be known before the broker starts)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    from crm_platform.testing import free_port

    port = free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_envs(**kafka_environment(port))
        .with_bind_ports(9092, port)
        .waiting_for(LogMessageWaitStrategy(r"Kafka Server started"))
    )
    container.kafka_host_port = port
    return container


@pytest.fixture(scope="session")
def mongo_uri(_containers: ExitStack) -> str:
    if uri := os.environ.get("CRM_MONGODB_URI"):
        return uri
    if not _docker_answers():
        _unavailable("A MongoDB-wire server")
    from testcontainers.community.mongodb import MongoDbContainer

    container = _containers.enter_context(MongoDbContainer("mongo:7"))
    return container.get_connection_url()


@pytest.fixture(scope="session")
def fresh_database(postgres_server: PostgresServer) -> Iterator[Callable[[str], str]]:
    """Create uniquely named PostgreSQL databases; dropped at the end of the session."""
    import psycopg

    created: list[str] = []

    def create(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}".lower()
        with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name

    yield create
    with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Unique names for topics, consumer groups and MongoDB databases."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class SmtpSink:
    """The local SMTP server (scripts/infra/mailsink.py) and the Maildir it delivers to."""

    host: str
    port: int
    maildir: str

    def env(self) -> dict[str, str]:
        return {"CRM_SMTP_HOST": self.host, "CRM_SMTP_PORT": str(self.port)}

    def messages_to(self, address: str) -> list:
        """Every message delivered to ``address`` (per the SMTP envelope), oldest first."""
        from pathlib import Path

        mailsink = _mailsink_module()
        found = [
            m
            for m in mailsink.read_messages(Path(self.maildir))
            if address.lower() in str(m["X-Sink-Rcpt-To"]).lower().split(", ")
        ]
        return sorted(found, key=lambda m: str(m["Date"]))

    def wait_for(self, address: str, count: int = 1, timeout: float = 30.0) -> list:
        """The messages to ``address`` once there are ``count`` of them (fails after timeout)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            found = self.messages_to(address)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                pytest.fail(f"{len(found)} of {count} messages to {address} after {timeout}s")
            time.sleep(0.1)


@cache
def _mailsink_module():  # type: ignore[no-untyped-def]
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent / "scripts" / "infra" / "mailsink.py"
    spec = importlib.util.spec_from_file_location("crm_mailsink", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    """The SMTP sink that `make infra` runs (CRM_SMTP_HOST/PORT, CRM_MAIL_SINK_DIR). Without
    one, the same server is started in-process on a free port: it needs no installation, so
    unlike the other servers it is never missing."""
    if host := os.environ.get("CRM_SMTP_HOST"):
        maildir = os.environ.get("CRM_MAIL_SINK_DIR")
        if not maildir:
            _unavailable("The SMTP sink's Maildir (CRM_MAIL_SINK_DIR)")
        yield SmtpSink(host, int(os.environ.get("CRM_SMTP_PORT", "25")), str(maildir))
        return
    import asyncio
    import threading

    mailsink = _mailsink_module()
    maildir = tmp_path_factory.mktemp("mail")
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(mailsink.smtp_factory(maildir), "127.0.0.1", 0)
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield SmtpSink("127.0.0.1", server.sockets[0].getsockname()[1], str(maildir))
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


@dataclass(frozen=True)
class OidcProvider:
    """The OpenID Connect provider `make infra` runs (Dex, scripts/infra/oidc.sh)."""

    issuer: str
    client_id: str
    client_secret: str
    password: str  # every test user's


@pytest.fixture(scope="session")
def oidc_provider() -> OidcProvider:
    names = ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "PASSWORD")
    values = [os.environ.get(f"CRM_OIDC_TEST_{name}") for name in names]
    if not all(values):
        _unavailable("The OpenID Connect provider (CRM_OIDC_TEST_*)")
    return OidcProvider(*(str(value) for value in values))
