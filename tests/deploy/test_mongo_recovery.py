"""scripts/infra/mongo.sh on a MongoDB-wire server of its own (a temporary state folder, a free
port): a stop closes the store; a store found corrupt at start is moved aside, the server starts
empty, and the analytics read models are marked for a rebuild."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from crm_platform.testing import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
MONGO_SH = ROOT / "scripts/infra/mongo.sh"


class Server:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = free_port()
        self.env = {**os.environ, "CRM_INFRA_STATE_DIR": str(state)}
        self.env["CRM_INFRA_MONGO_PORT"] = str(self.port)

    def run(self, action: str) -> str:
        done = subprocess.run(
            ["bash", str(MONGO_SH), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def client(self) -> MongoClient:
        return MongoClient(f"mongodb://127.0.0.1:{self.port}/", serverSelectionTimeoutMS=5000)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    built = ROOT / ".local/mongo/lib"
    if built.is_dir():  # the jars `make infra` fetched: no Maven run needed
        shutil.copytree(built, tmp_path / "mongo/lib")
    server = Server(tmp_path)
    yield server
    server.run("down")


def test_a_stop_closes_the_store_and_the_documents_survive(server: Server):
    server.run("up")
    with server.client() as client:
        client.demo.things.insert_many([{"n": n} for n in range(100)])
    stopped = server.run("down")
    assert "mongo stopped in" in stopped
    assert (server.state / "mongo/data/mongo.mv.closed").exists()
    server.run("up")
    with server.client() as client:
        assert client.demo.things.count_documents({}) == 100


def test_a_corrupt_store_is_moved_aside_and_the_server_starts_empty(server: Server):
    server.run("up")
    with server.client() as client:
        client.demo.things.insert_many([{"n": n} for n in range(100)])
    server.run("down")
    store = server.state / "mongo/data/mongo.mv"
    with store.open("r+b") as file:  # both copies of the file header
        file.write(os.urandom(8192))

    started = server.run("up")

    notices = [line for line in started.splitlines() if "store corrupt" in line]
    assert len(notices) == 1, started
    assert "Store header is corrupt" in notices[0]
    (aside,) = (server.state / "mongo").glob("data.corrupt-*")
    assert (aside / "mongo.mv").stat().st_size > 8192, "kept for a post-mortem"
    assert (server.state / "mongo/rebuild-read-models").exists()
    with server.client() as client:
        assert client.demo.things.count_documents({}) == 0
        client.demo.things.insert_one({"n": 1})
