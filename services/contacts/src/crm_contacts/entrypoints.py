"""One process per role, as deployed: ``crm-contacts-api``, ``-relay`` and ``-worker``."""

from __future__ import annotations

import os

from crm_platform.relay import run_relay
from crm_platform.runtime import run_async, run_worker, serve_api
from crm_platform.settings import KafkaSettings
from faststream.kafka import KafkaBroker

from . import bootstrap
from .contracts import SOURCE_SERVICE

# Each service has its own default port, so all of them run side by side on one machine.
DEFAULT_HTTP_PORT = "8001"


def api() -> None:
    os.environ.setdefault("CRM_HTTP_PORT", DEFAULT_HTTP_PORT)
    serve_api(SOURCE_SERVICE, bootstrap.api_from_env)


def relay() -> None:
    async def main() -> None:
        await run_relay(bootstrap.relay_from_env())

    run_async(SOURCE_SERVICE, "relay", main)


def worker() -> None:
    async def broker() -> KafkaBroker:
        return bootstrap.build_broker(KafkaSettings())

    run_worker(SOURCE_SERVICE, broker)
