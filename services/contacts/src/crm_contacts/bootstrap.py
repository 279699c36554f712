"""The composition root: settings from the environment -> application, API, relay and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from crm_events.contacts import CustomerRegistered
from crm_platform.eventstore import eventsourcing_env
from crm_platform.health import kafka_check, postgres_check
from crm_platform.kafka import make_broker
from crm_platform.relay import OutboxRelay
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.web.app import create_api
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from .api import customers_router
from .application import ContactsApplication
from .contracts import SOURCE_SERVICE, translate

DATABASE = "contacts"


def build_application(postgres: PostgresSettings) -> ContactsApplication:
    return ContactsApplication(env=eventsourcing_env(postgres, database=DATABASE))


def build_api(
    application: ContactsApplication,
    *,
    postgres: PostgresSettings | None = None,
    kafka: KafkaSettings | None = None,
) -> FastAPI:
    """The HTTP API; readiness checks the servers given (tests may give none)."""
    readiness = {}
    if postgres is not None:
        readiness["postgres"] = postgres_check(postgres.dsn(postgres.database or DATABASE))
    if kafka is not None:
        readiness["kafka"] = kafka_check(kafka.bootstrap_servers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        application.close()

    return create_api(
        title="CRM contacts",
        service=SOURCE_SERVICE,
        version=version("crm-contacts"),
        description="Customers and every contact the business had with them.",
        routers=[customers_router(application)],
        readiness=readiness,
        lifespan=lifespan,
    )


def build_relay(
    application: ContactsApplication, *, postgres: PostgresSettings, kafka: KafkaSettings
) -> OutboxRelay:
    return OutboxRelay(
        name=SOURCE_SERVICE,
        application=application,
        translate=translate,
        topics=[CustomerRegistered.topic()],
        kafka=kafka,
        postgres=postgres,
        database=DATABASE,
    )


def build_broker(kafka: KafkaSettings) -> KafkaBroker:
    """The worker's broker; contacts consumes no events yet, so nothing subscribes to it."""
    return make_broker(kafka)


def api_from_env() -> FastAPI:
    postgres, kafka = PostgresSettings(), KafkaSettings()
    return build_api(build_application(postgres), postgres=postgres, kafka=kafka)


def relay_from_env() -> OutboxRelay:
    postgres = PostgresSettings()
    return build_relay(build_application(postgres), postgres=postgres, kafka=KafkaSettings())
