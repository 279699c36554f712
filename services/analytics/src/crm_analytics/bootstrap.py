"""The composition root: settings -> MongoDB client, repository, broker, API and worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from faststream import FastStream
from pymongo import AsyncMongoClient, WriteConcern

from crm_platform.health import kafka_check, mongo_check
from crm_platform.kafka import COMPACTED, ensure_topics, make_broker
from crm_platform.privacy import MongoKeyring, subscribe_personal_data_keys
from crm_platform.settings import KafkaSettings, MongoSettings
from crm_platform.web.app import create_api

from .api.metrics_routes import customer_value_router, metrics_router
from .api.routes import customer_360_router, organization_router
from .application import customer_360, history, metrics_facts, organization_360
from .application.customer_360 import Customer360Model, Customer360Reads
from .application.erasure import ErasureConfirmations
from .application.history import EventArchiveModel, History
from .application.metrics_facts import MetricsFacts, MetricsReadModel
from .application.metrics_scores import CustomerScores
from .application.metrics_settings import MetricsSettings
from .application.organization_360 import OrganizationModel, OrganizationReads
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


def build_api(
    mongo: AnalyticsMongoSettings | None = None, kafka: KafkaSettings | None = None
) -> FastAPI:
    mongo, kafka = mongo or AnalyticsMongoSettings(), kafka or KafkaSettings()
    client = mongo_client(mongo)
    models = catalog(client, mongo)
    archive = History(models)
    metrics = MetricsSettings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.close()

    return create_api(
        title="CRM analytics",
        service=SERVICE,
        description="Read models built from the CRM's event streams.",
        routers=[
            customer_360_router(Customer360Reads(models), archive, keyring(client, mongo)),
            organization_router(OrganizationReads(models), archive),
            customer_value_router(customer_scores(client, mongo), metrics.currency),
            metrics_router(MetricsFacts(models), metrics.campaign_costs()),
        ],
        readiness={"kafka": kafka_check(kafka.bootstrap_servers), "mongodb": mongo_check(client)},
        lifespan=lifespan,
    )


def build_worker(
    mongo: AnalyticsMongoSettings | None = None, kafka: KafkaSettings | None = None
) -> FastStream:
    mongo, kafka = mongo or AnalyticsMongoSettings(), kafka or KafkaSettings()
    client = mongo_client(mongo)
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
    loops = metric_loops(
        MetricsFacts(models), customer_scores(client, mongo), MetricsSettings(), kafka, erasures
    )
    stop, tasks = asyncio.Event(), []

    async def start_loops() -> None:
        # After the broker started; each loop runs until ``stop`` and survives passing failures.
        tasks.extend(asyncio.create_task(loop(stop)) for loop in loops)

    async def stop_loops() -> None:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def ensure_compacted_topics() -> None:
        # The key topic is read before any relay may have created it (with its compaction).
        await ensure_topics(kafka.bootstrap_servers, COMPACTED)

    return FastStream(
        broker,
        logger=logging.getLogger("crm.faststream"),
        on_startup=[ensure_compacted_topics],
        after_startup=[start_loops],
        on_shutdown=[stop_loops],
        after_shutdown=[client.close],
    )
