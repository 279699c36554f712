"""The testcontainers fallback that users with Docker and no `make infra` get (conftest.py).

Nothing is started here (this machine has no Docker engine, and building a container object
already asks it): the broker's configuration and the modules the fixtures import are checked.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]


def _root_conftest():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("crm_root_conftest", ROOT / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_kafka_container_is_a_single_node_kraft_broker_on_the_host_port() -> None:
    env = _root_conftest().kafka_environment(40123)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://127.0.0.1:40123"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9093"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_the_apache_image_matches_the_compose_file() -> None:
    assert f"image: {_root_conftest().KAFKA_IMAGE}" in (ROOT / "docker-compose.yml").read_text()


def test_the_fallback_imports_are_the_current_modules() -> None:
    source = (ROOT / "conftest.py").read_text()
    for deprecated in ("testcontainers.kafka", "testcontainers.postgres", "testcontainers.mongodb"):
        assert f"from {deprecated} import" not in source
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from testcontainers.community.mongodb import MongoDbContainer  # noqa: F401
        from testcontainers.community.postgres import PostgresContainer  # noqa: F401
