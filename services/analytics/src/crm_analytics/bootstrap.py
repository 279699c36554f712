"""The composition root: settings -> MongoDB client, repository, broker, API and worker."""

from __future__ import annotations

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

from .api.routes import customer_360_router
from .application.repository import Customer360Repository
from .messaging.customer_360 import GROUP_ID, subscribe_customer_360

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


def repository(
    client: AsyncMongoClient[Any], settings: AnalyticsMongoSettings
) -> Customer360Repository:
    return Customer360Repository.from_client(client, settings.database, write_concern=settings.w())


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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.close()

    return create_api(
        title="CRM analytics",
        service=SERVICE,
        description="Read models built from the CRM's event streams.",
        routers=[customer_360_router(repository(client, mongo), keyring(client, mongo))],
        readiness={"kafka": kafka_check(kafka.bootstrap_servers), "mongodb": mongo_check(client)},
        lifespan=lifespan,
    )


def build_worker(
    mongo: AnalyticsMongoSettings | None = None, kafka: KafkaSettings | None = None
) -> FastStream:
    mongo, kafka = mongo or AnalyticsMongoSettings(), kafka or KafkaSettings()
    client = mongo_client(mongo)
    broker = make_broker(kafka)
    subscribe_customer_360(broker, repository(client, mongo), group_id=kafka.group(GROUP_ID))
    subscribe_personal_data_keys(
        broker, keyring(client, mongo), group_id=kafka.group(KEYRING_GROUP)
    )

    async def ensure_compacted_topics() -> None:
        # The key topic is read before any relay may have created it (with its compaction).
        await ensure_topics(kafka.bootstrap_servers, COMPACTED)

    return FastStream(
        broker,
        logger=logging.getLogger("crm.faststream"),
        on_startup=[ensure_compacted_topics],
        after_shutdown=[client.close],
    )
