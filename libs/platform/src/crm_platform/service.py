"""The processes of a service, built from one description of it.

Every operational service (an event store of its own, a relay publishing its integration events,
a worker reacting to other services' events) is wired the same way; a service describes itself
with a ``ServiceSpec`` in its bootstrap module and its entrypoints call ``api``, ``relay`` and
``worker``. A service without an event store (analytics: read models in MongoDB) describes the
resources its processes open instead (``resources``) and the servers they need (``checks``); it
runs an api and a worker.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker

from .eventstore import open_application
from .health import kafka_check, postgres_check
from .kafka import make_broker
from .liveness import Check
from .loops import Loop
from .relay import OutboxRelay, Translator, run_relay
from .runtime import Background, run_async, run_worker, serve_api
from .settings import KafkaSettings, PostgresSettings, load_secret_files
from .web.app import create_api
from .web.rate_limit import PostgresHitCounter


def _no_subscriptions(broker: KafkaBroker, application: Any) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    name: str
    title: str
    port: int  # default HTTP port, so every service runs side by side on one machine
    # The event store: its PostgreSQL database and application, and what the relay makes of its
    # notifications (``translate``) for its ``topics``.
    database: str = ""
    application: Callable[[dict[str, str]], Application[Any]] | None = None
    translate: Translator | None = None
    topics: Sequence[str] = ()
    routers: Callable[[Any], Sequence[APIRouter]] = lambda application: ()
    subscribe: Callable[[KafkaBroker, Any], None] = _no_subscriptions
    # Loops the worker runs beside its subscribers (schedulers, local projections), given the
    # application: ``loops.Loop``s (or, until every service moved to them, coroutine functions
    # of the shutdown event).
    background: Callable[[Any], Sequence[Loop | Background]] = lambda application: ()
    description: str = ""
    # Without an event store: what the processes open instead of an application (clients), given
    # to ``routers``, ``subscribe`` and ``background`` alike; its ``close()`` may be awaitable.
    resources: Callable[[], Any] | None = None
    # The servers readiness checks beside Kafka (and the event store's PostgreSQL).
    checks: Callable[[], Mapping[str, Check]] = lambda: {}

    def build_application(self, postgres: PostgresSettings | None = None) -> Any:
        if self.resources is not None:
            return self.resources()
        if self.application is None:
            raise TypeError(f"{self.name} describes neither an application nor its resources")
        return open_application(self.application, postgres or PostgresSettings(), self.database)

    def build_api(
        self,
        application: Any = None,
        *,
        postgres: PostgresSettings | None = None,
        kafka: KafkaSettings | None = None,
    ) -> FastAPI:
        """The HTTP API; without an application it only serves documents (OpenAPI generation)."""
        postgres, kafka = postgres or PostgresSettings(), kafka or KafkaSettings()

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            yield
            if application is not None:
                await close(application)

        return create_api(
            title=self.title,
            service=self.name,
            description=self.description,
            routers=self.routers(application),
            readiness=self.readiness(postgres, kafka),
            lifespan=lifespan,
            # The public routes' limits, shared by the replicas through the service's database.
            hit_counter=(
                PostgresHitCounter(postgres.dsn(postgres.database or self.database))
                if application is not None and self.database
                else None
            ),
        )

    def readiness(
        self, postgres: PostgresSettings | None = None, kafka: KafkaSettings | None = None
    ) -> dict[str, Check]:
        """The servers each of the service's processes needs: its database, Kafka and those
        it names in ``checks``."""
        postgres, kafka = postgres or PostgresSettings(), kafka or KafkaSettings()
        servers = dict(self.checks())
        if self.database:
            servers["postgres"] = postgres_check(postgres.dsn(postgres.database or self.database))
        return servers | {"kafka": kafka_check(kafka)}

    def build_relay(
        self,
        application: Any = None,
        *,
        postgres: PostgresSettings | None = None,
        kafka: KafkaSettings | None = None,
    ) -> OutboxRelay:
        if self.translate is None:
            raise TypeError(f"{self.name} has no event store to relay")
        postgres = postgres or PostgresSettings()
        return OutboxRelay(
            name=self.name,
            application=application or self.build_application(postgres),
            translate=self.translate,
            topics=self.topics,
            kafka=kafka or KafkaSettings(),
            postgres=postgres,
            database=self.database,
        )


# Each process reads the secrets mounted as files first, before any settings are read.


def api(spec: ServiceSpec) -> None:
    load_secret_files()
    serve_api(spec.name, lambda: spec.build_api(spec.build_application()), spec.port)


def relay(spec: ServiceSpec) -> None:
    load_secret_files()
    run_async(spec.name, "relay", lambda: run_relay(spec.build_relay()), readiness=spec.readiness())


def worker(spec: ServiceSpec) -> None:
    load_secret_files()
    application = None

    async def broker() -> KafkaBroker:
        nonlocal application
        application = spec.build_application()
        kafka_broker = make_broker(KafkaSettings())
        spec.subscribe(kafka_broker, application)
        return kafka_broker

    run_worker(
        spec.name,
        broker,
        lambda: spec.background(application),
        readiness=spec.readiness(),
        shutdown=lambda: close(application),
    )


async def close(application: Any) -> None:
    """An event store's application closes at once; resources (async clients) may be awaited."""
    if application is not None and inspect.isawaitable(closing := application.close()):
        await closing
