"""A service without an event store is described by a ServiceSpec too: its processes open its
resources instead of an application, check the servers it names, and close what they opened."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from crm_platform.liveness import Check
from crm_platform.service import ServiceSpec, close
from crm_platform.settings import KafkaSettings, PostgresSettings

pytestmark = pytest.mark.unit


class Resources:
    """Clients that close asynchronously, as PyMongo's asyncio client does."""

    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


async def mongo() -> None:
    return None


def checks() -> dict[str, Check]:
    return {"mongodb": mongo}


def routers(resources: Any) -> list[APIRouter]:
    router = APIRouter()

    @router.get("/opened")
    def opened() -> dict[str, bool]:
        return {"resources": isinstance(resources, Resources)}

    return [router]


SPEC = ServiceSpec(
    name="storeless", title="t", port=1, resources=Resources, routers=routers, checks=checks
)


def test_its_readiness_checks_kafka_and_its_own_servers_but_no_postgres() -> None:
    readiness = SPEC.readiness(PostgresSettings(), KafkaSettings())

    assert sorted(readiness) == ["kafka", "mongodb"]
    assert readiness["mongodb"] is mongo


def test_an_event_store_service_still_checks_its_postgres_and_kafka() -> None:
    spec = ServiceSpec(name="store", title="t", port=1, database="store")

    assert sorted(spec.readiness(PostgresSettings(), KafkaSettings())) == ["kafka", "postgres"]


async def test_its_processes_open_its_resources_and_the_api_closes_them() -> None:
    resources = SPEC.build_application()
    app = SPEC.build_api(resources)

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            assert (await client.get("/opened")).json() == {"resources": True}
        assert not resources.closed
    assert resources.closed


async def test_close_awaits_resources_and_closes_an_application_at_once() -> None:
    class Application:
        closed = False

        def close(self) -> None:
            self.closed = True

    resources, application = Resources(), Application()
    await close(resources)
    await close(application)
    await close(None)

    assert resources.closed and application.closed


def test_without_an_event_store_there_is_nothing_to_relay() -> None:
    with pytest.raises(TypeError, match="no event store"):
        SPEC.build_relay(object())
    with pytest.raises(TypeError, match="neither an application nor its resources"):
        ServiceSpec(name="empty", title="t", port=1).build_application()
