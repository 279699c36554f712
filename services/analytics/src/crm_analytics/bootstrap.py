"""The composition root: the analytics service described once; builders come from the platform.

Analytics keeps no event store: its processes open MongoDB clients instead (``Analytics``), and
the platform's ``ServiceSpec`` gives them to its routers, subscriptions and loops. The quarantine
of its loops lives beside its read models, in MongoDB (``MongoQuarantine``, through PyMongo's
synchronous client, as the quarantine's interface is synchronous); the API serves it under
``/admin/quarantine``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import anyio.from_thread
from fastapi import APIRouter
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient, MongoClient, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from crm_platform.health import mongo_check
from crm_platform.liveness import Check
from crm_platform.loops import Loop
from crm_platform.privacy import MongoKeyring, subscribe_personal_data_keys
from crm_platform.quarantine import Entry
from crm_platform.quarantine_mongo import MongoQuarantine
from crm_platform.read_models import Catalog, Document, ReadModel, subscribe_read_model
from crm_platform.service import ServiceSpec
from crm_platform.settings import KafkaSettings, MongoSettings
from crm_platform.web.admin import Retry, admin_router

from .api.metrics_routes import customer_value_router, metrics_router
from .api.partner_routes import partner_router
from .api.routes import customer_360_router, organization_router
from .application.erasure import ErasureConfirmations
from .application.metrics_scores import LOOP as SCORING_LOOP
from .application.metrics_scores import CustomerScores, CustomerScoring
from .application.metrics_settings import MetricsSettings
from .application.outbox import OutboxRelay
from .messaging.erasure import ERASURE_GROUP, subscribe_erasures
from .messaging.metrics_loops import metric_loops
from .messaging.subject_access import (
    SUBJECT_ACCESS_GROUP,
    SubjectAccess,
    subscribe_subject_access_requests,
)
from .read_models import customer_360, event_archive, metrics, organization_360

SERVICE = "analytics"
KEYRING_COLLECTION = "personal_data_keys"
KEYRING_GROUP = "analytics.keyring"


class AnalyticsMongoSettings(MongoSettings):
    write_concern: str = "majority"  # CRM_MONGODB_WRITE_CONCERN: "majority" or a node count

    def w(self) -> str | int:
        return int(self.write_concern) if self.write_concern.isdigit() else self.write_concern


def read_models() -> list[ReadModel]:
    """Every read model the worker feeds and ``crm-analytics-replay`` can rebuild."""
    return [
        customer_360.Customer360Model(),
        organization_360.OrganizationModel(),
        event_archive.EventArchiveModel(),
        metrics.MetricsReadModel(),
    ]


def live_groups(kafka: KafkaSettings) -> dict[str, str]:
    """Each read model's live consumer group, spelled as a constant:
    scripts/generate-kafka-topics.py declares their dead letters."""
    return {
        customer_360.NAME: kafka.group(customer_360.LIVE_GROUP),
        organization_360.NAME: kafka.group(organization_360.LIVE_GROUP),
        event_archive.NAME: kafka.group(event_archive.LIVE_GROUP),
        metrics.NAME: kafka.group(metrics.LIVE_GROUP),
    }


@dataclass(frozen=True)
class Analytics:
    """What a process of analytics opens: its MongoDB clients and the stores on them. Clients
    connect on first use, so an API built only for its OpenAPI document never does."""

    mongo: AnalyticsMongoSettings
    kafka: KafkaSettings
    client: AsyncMongoClient[Document]
    sync_client: MongoClient[Document]

    @classmethod
    def open(
        cls, mongo: AnalyticsMongoSettings | None = None, kafka: KafkaSettings | None = None
    ) -> Analytics:
        mongo = mongo or AnalyticsMongoSettings()
        # tz_aware: stored times come back as UTC-aware datetimes, as the projection wrote them.
        options: dict[str, Any] = {"tz_aware": True, "appname": "crm-analytics"}
        return cls(
            mongo,
            kafka or KafkaSettings(),
            AsyncMongoClient(mongo.uri, **options),
            MongoClient(mongo.uri, w=mongo.w(), connect=False, **options),
        )

    @property
    def database(self) -> AsyncDatabase[Document]:
        return self.client[self.mongo.database]

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.database, read_models(), write_concern=self.mongo.w())

    @cached_property
    def keyring(self) -> MongoKeyring:
        """The analytics copy of the data subjects' keys, fed by the key topic."""
        concern = WriteConcern(w=self.mongo.w())
        return MongoKeyring(self.database.get_collection(KEYRING_COLLECTION, write_concern=concern))

    @cached_property
    def scores(self) -> CustomerScores:
        """Scores and their outbox live outside the rebuildable generations (see metrics_scores)."""
        return CustomerScores.in_database(self.database, write_concern=self.mongo.w())

    @cached_property
    def erasures(self) -> ErasureConfirmations:
        return ErasureConfirmations.in_database(self.database, write_concern=self.mongo.w())

    @cached_property
    def quarantine(self) -> MongoQuarantine:
        return MongoQuarantine(self.sync_client[self.mongo.database], service=SERVICE)

    @cached_property
    def facts(self) -> metrics.MetricsFacts:
        return metrics.MetricsFacts(self.catalog)

    @cached_property
    def scoring(self) -> CustomerScoring:
        settings = MetricsSettings().scoring()
        return CustomerScoring(self.facts, self.scores, settings, self.quarantine)

    async def close(self) -> None:
        await self.client.close()
        self.sync_client.close()


def on_event_loop(retry: Callable[[Entry], Coroutine[Any, Any, bool]]) -> Retry:
    """An async retry for the admin routes, which call theirs from FastAPI's thread pool."""
    return lambda entry: anyio.from_thread.run(retry, entry)


def routers(analytics: Analytics | None) -> list[APIRouter]:
    """Without resources (the OpenAPI document alone), clients that never connect."""
    analytics = analytics or Analytics.open()
    catalog, settings = analytics.catalog, MetricsSettings()
    archive = event_archive.History(catalog)
    return [
        customer_360_router(customer_360.Customer360Reads(catalog), archive, analytics.keyring),
        organization_router(organization_360.OrganizationReads(catalog), archive),
        partner_router(organization_360.OrganizationReads(catalog)),
        customer_value_router(analytics.scores, settings.currency),
        metrics_router(analytics.facts),
        # The relay's entries have no retry of their own: released, it tries them within a
        # second. A customer is scored again at once (the next pass may be minutes away).
        admin_router(
            SERVICE,
            quarantine=lambda: analytics.quarantine,
            retries={SCORING_LOOP: on_event_loop(analytics.scoring.retry)},
        ),
    ]


def subscribe(broker: KafkaBroker, analytics: Analytics) -> None:
    """The read models' consumers, the keyring's, the erasures' (which confirm) and the
    subject-access requests' (which answer)."""
    catalog, groups = analytics.catalog, live_groups(analytics.kafka)
    for name, model in catalog.models.items():
        subscribe_read_model(broker, model, catalog, group_id=groups[name])
    keys = analytics.keyring
    subscribe_personal_data_keys(broker, keys, group_id=analytics.kafka.group(KEYRING_GROUP))
    group = analytics.kafka.group(ERASURE_GROUP)
    subscribe_erasures(broker, keys, analytics.erasures, group_id=group)
    reads = customer_360.Customer360Reads(analytics.catalog)
    subject_access = SubjectAccess(reads, keys, analytics.scores, analytics.erasures)
    subscribe_subject_access_requests(
        broker, subject_access, group_id=analytics.kafka.group(SUBJECT_ACCESS_GROUP)
    )


def background(analytics: Analytics) -> list[Loop]:
    """Scoring passes, and the outbox relay of what analytics publishes: the figures (RFM, churn
    risk) and its erasure confirmations."""
    relay = OutboxRelay([analytics.scores, analytics.erasures], analytics.quarantine)
    return metric_loops(analytics.scoring, relay, MetricsSettings(), analytics.kafka)


def checks() -> dict[str, Check]:
    """MongoDB, named by its URI: each process's check makes its own client on first use."""
    return {"mongodb": mongo_check(AnalyticsMongoSettings().uri)}


SPEC = ServiceSpec(
    name=SERVICE,
    title="CRM analytics",
    description="Read models built from the CRM's event streams.",
    port=8005,
    resources=Analytics.open,
    routers=routers,
    subscribe=subscribe,
    background=background,
    checks=checks,
)
build_api = SPEC.build_api
