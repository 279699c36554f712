"""The composition root: settings -> MongoDB client, repository, broker, API and worker.

The quarantine of analytics' loops lives beside its read models, in MongoDB (``MongoQuarantine``,
through PyMongo's synchronous client, as the quarantine's interface is synchronous); the API
serves it under ``/admin/quarantine``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.from_thread
from fastapi import FastAPI
from faststream import FastStream
from pymongo import AsyncMongoClient, MongoClient, WriteConcern

from crm_platform.health import kafka_check, mongo_check
from crm_platform.kafka import COMPACTED, ensure_topics, make_broker
from crm_platform.liveness import Check
from crm_platform.privacy import MongoKeyring, subscribe_personal_data_keys
from crm_platform.quarantine import Entry
from crm_platform.quarantine_mongo import MongoQuarantine
from crm_platform.runtime import start_background
from crm_platform.settings import KafkaSettings, MongoSettings
from crm_platform.web.admin import Retry, admin_router
from crm_platform.web.app import create_api

from .api.metrics_routes import customer_value_router, metrics_router
from .api.routes import customer_360_router, organization_router
from .application import customer_360, history, metrics_facts, organization_360
from .application.customer_360 import Customer360Model, Customer360Reads
from .application.erasure import ErasureConfirmations
from .application.history import EventArchiveModel, History
from .application.metrics_facts import MetricsFacts, MetricsReadModel
from .application.metrics_scores import LOOP as SCORING_LOOP
from .application.metrics_scores import CustomerScores, CustomerScoring
from .application.metrics_settings import MetricsSettings
from .application.organization_360 import OrganizationModel, OrganizationReads
from .application.outbox import OutboxRelay
from .application.readmodels import Catalog, ReadModel
from .messaging.erasure import ERASURE_GROUP, subscribe_erasures
from .messaging.metrics_loops import metric_loops
from .messaging.readmodels import subscribe_read_model

SERVICE = "analytics"
KEYRING_COLLECTION = "personal_data_keys"
KEYRING_GROUP = "analytics.keyring"


class AnalyticsMongoSettings(MongoSettings):
    write_concern: str = "majority"  # CRM_MONGODB_WRITE_CONCERN: "majority" or a node count

    def w(self) -> str | int:
        return int(self.write_concern) if self.write_concern.isdigit() else self.write_concern


def mongo_client(settings: AnalyticsMongoSettings) -> AsyncMongoClient[Any]:
    # tz_aware: stored times come back as UTC-aware datetimes, as the projection wrote them.
    return AsyncMongoClient(settings.uri, tz_aware=True, appname="crm-analytics")


def read_models() -> list[ReadModel]:
    """Every read model the worker feeds and ``crm-analytics-replay`` can rebuild."""
    return [Customer360Model(), OrganizationModel(), EventArchiveModel(), MetricsReadModel()]


def quarantine_client(settings: AnalyticsMongoSettings) -> MongoClient[Any]:
    """Connects on first use: an API built only for its OpenAPI document never does."""
    return MongoClient(
        settings.uri, tz_aware=True, appname="crm-analytics", w=settings.w(), connect=False
    )


def quarantine(client: MongoClient[Any], settings: AnalyticsMongoSettings) -> MongoQuarantine:
    return MongoQuarantine(client[settings.database], service=SERVICE)


def readiness(client: AsyncMongoClient[Any] | str, kafka: KafkaSettings) -> Mapping[str, Check]:
    """The servers a process of analytics needs (a worker names MongoDB by its URI)."""
    return {"kafka": kafka_check(kafka.bootstrap_servers), "mongodb": mongo_check(client)}


def catalog(client: AsyncMongoClient[Any], settings: AnalyticsMongoSettings) -> Catalog:
    return Catalog(client[settings.database], read_models(), write_concern=settings.w())


def customer_scores(
    client: AsyncMongoClient[Any], settings: AnalyticsMongoSettings
) -> CustomerScores:
    """Scores and their outbox live outside the rebuildable generations (see metrics_scores)."""
    return CustomerScores.in_database(client[settings.database], write_concern=settings.w())


def keyring(client: AsyncMongoClient[Any], settings: AnalyticsMongoSettings) -> MongoKeyring:
    """The analytics copy of the data subjects' keys, fed by the key topic."""
    collection = client[settings.database].get_collection(
        KEYRING_COLLECTION, write_concern=WriteConcern(w=settings.w())
    )
    return MongoKeyring(collection)


def scoring(
    client: AsyncMongoClient[Any],
    settings: AnalyticsMongoSettings,
    models: Catalog,
    held: MongoQuarantine,
) -> CustomerScoring:
    scores = customer_scores(client, settings)
    return CustomerScoring(MetricsFacts(models), scores, MetricsSettings().scoring(), held)


def on_event_loop(retry: Callable[[Entry], Awaitable[bool]]) -> Retry:
    """An async retry for the admin routes, which call theirs from FastAPI's thread pool."""
    return lambda entry: anyio.from_thread.run(retry, entry)


def build_api(
    mongo: AnalyticsMongoSettings | None = None, kafka: KafkaSettings | None = None
) -> FastAPI:
    mongo, kafka = mongo or AnalyticsMongoSettings(), kafka or KafkaSettings()
    client, sync_client = mongo_client(mongo), quarantine_client(mongo)
    models = catalog(client, mongo)
    archive = History(models)
    metrics = MetricsSettings()
    held = quarantine(sync_client, mongo)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.close()
        sync_client.close()

    return create_api(
        title="CRM analytics",
        service=SERVICE,
        description="Read models built from the CRM's event streams.",
        routers=[
            customer_360_router(Customer360Reads(models), archive, keyring(client, mongo)),
            organization_router(OrganizationReads(models), archive),
            customer_value_router(customer_scores(client, mongo), metrics.currency),
            metrics_router(MetricsFacts(models), metrics.campaign_costs()),
            # The relay's entries have no retry of their own: released, it tries them within
            # a second. A customer is scored again at once (the next pass may be minutes away).
            admin_router(
                SERVICE,
                quarantine=lambda: held,
                retries={SCORING_LOOP: on_event_loop(scoring(client, mongo, models, held).retry)},
            ),
        ],
        readiness=readiness(client, kafka),
        lifespan=lifespan,
    )


def build_worker(
    mongo: AnalyticsMongoSettings | None = None, kafka: KafkaSettings | None = None
) -> FastStream:
    """The worker: the read models' and erasures' consumers, and the metric loops beside them,
    each registered in the health registry (``crm-analytics-worker`` serves it)."""
    mongo, kafka = mongo or AnalyticsMongoSettings(), kafka or KafkaSettings()
    client, sync_client = mongo_client(mongo), quarantine_client(mongo)
    broker = make_broker(kafka)
    models = catalog(client, mongo)

    def feed(model: str, group_id: str) -> None:
        subscribe_read_model(broker, models.models[model], models, group_id=group_id)

    # Groups spelled as constants: scripts/generate-kafka-topics.py declares their dead letters.
    feed(customer_360.NAME, kafka.group(customer_360.LIVE_GROUP))
    feed(organization_360.NAME, kafka.group(organization_360.LIVE_GROUP))
    feed(history.NAME, kafka.group(history.LIVE_GROUP))
    feed(metrics_facts.NAME, kafka.group(metrics_facts.LIVE_GROUP))
    keys = keyring(client, mongo)
    subscribe_personal_data_keys(broker, keys, group_id=kafka.group(KEYRING_GROUP))
    erasures = ErasureConfirmations.in_database(client[mongo.database], write_concern=mongo.w())
    subscribe_erasures(broker, keys, erasures, group_id=kafka.group(ERASURE_GROUP))

    # Scoring passes, and the outbox relay of what analytics publishes: the figures (RFM, churn
    # risk) and its erasure confirmations.
    held = quarantine(sync_client, mongo)
    relay = OutboxRelay([customer_scores(client, mongo), erasures], held)
    loops = metric_loops(scoring(client, mongo, models, held), relay, MetricsSettings(), kafka)
    stop, tasks = asyncio.Event(), []

    async def start_loops() -> None:
        # After the broker started; each loop runs until ``stop`` and survives passing failures.
        tasks.extend(start_background(loop, stop, service=SERVICE) for loop in loops)

    async def stop_loops() -> None:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def ensure_compacted_topics() -> None:
        # The key topic is read before any relay may have created it (with its compaction).
        await ensure_topics(kafka.bootstrap_servers, COMPACTED)

    async def close_clients() -> None:
        await client.close()
        sync_client.close()

    return FastStream(
        broker,
        logger=logging.getLogger("crm.faststream"),
        on_startup=[ensure_compacted_topics],
        after_startup=[start_loops],
        on_shutdown=[stop_loops],
        after_shutdown=[close_clients],
    )
