"""The three processes of an operational service, built from one description of it.

Every operational service (an event store of its own, a relay publishing its integration events,
a worker reacting to other services' events) is wired the same way; a service describes itself
with a ``ServiceSpec`` in its bootstrap module and its entrypoints call ``api``, ``relay`` and
``worker``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from .settings import KafkaSettings, PostgresSettings
from .web.app import create_api


def _no_subscriptions(broker: KafkaBroker, application: Any) -> None:
    return None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    database: str
    port: int  # default HTTP port, so every service runs side by side on one machine
    application: Callable[[dict[str, str]], Application]
    translate: Translator
    topics: Sequence[str] = ()
    routers: Callable[[Any], Sequence[APIRouter]] = lambda application: ()
    subscribe: Callable[[KafkaBroker, Any], None] = _no_subscriptions
    # Loops the worker runs beside its subscribers (schedulers, local projections), given the
    # application: ``loops.Loop``s (or, until every service moved to them, coroutine functions
    # of the shutdown event).
    background: Callable[[Any], Sequence[Loop | Background]] = lambda application: ()
    description: str = ""

    def build_application(self, postgres: PostgresSettings | None = None) -> Any:
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
        async def lifespan(app: FastAPI) -> Any:
            yield
            if application is not None:
                application.close()

        return create_api(
            title=self.title,
            service=self.name,
            description=self.description,
            routers=self.routers(application),
            readiness=self.readiness(postgres, kafka),
            lifespan=lifespan,
        )

    def readiness(
        self, postgres: PostgresSettings | None = None, kafka: KafkaSettings | None = None
    ) -> dict[str, Check]:
        """The servers each of the service's processes needs: its database and Kafka."""
        postgres, kafka = postgres or PostgresSettings(), kafka or KafkaSettings()
        return {
            "postgres": postgres_check(postgres.dsn(postgres.database or self.database)),
            "kafka": kafka_check(kafka.bootstrap_servers),
        }

    def build_relay(
        self,
        application: Any = None,
        *,
        postgres: PostgresSettings | None = None,
        kafka: KafkaSettings | None = None,
    ) -> OutboxRelay:
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


def api(spec: ServiceSpec) -> None:
    serve_api(spec.name, lambda: spec.build_api(spec.build_application()), spec.port)


def relay(spec: ServiceSpec) -> None:
    run_async(spec.name, "relay", lambda: run_relay(spec.build_relay()), readiness=spec.readiness())


def worker(spec: ServiceSpec) -> None:
    application = None

    async def broker() -> KafkaBroker:
        nonlocal application
        application = spec.build_application()
        kafka_broker = make_broker(KafkaSettings())
        spec.subscribe(kafka_broker, application)
        return kafka_broker

    run_worker(spec.name, broker, lambda: spec.background(application), readiness=spec.readiness())
