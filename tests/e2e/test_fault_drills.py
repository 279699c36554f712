"""Fault drills: the servers and workers fail under a steady stream of commands, and nothing
accepted is lost or applied twice.

Each drill runs the whole platform while people are registered and their interactions logged at
about 20 commands a second for a bounded time; meanwhile one fault strikes: Kafka stopped for 15 s
and started again, PostgreSQL restarted, the MongoDB-wire server restarted, or the workers that
feed the read models SIGKILLed at random (seeded) moments and started again. The servers are
stopped and started through ``scripts/infra/<server>.sh`` only, and started again whatever happens.

Afterwards every command is answered (those that met a server down are sent again with their
Idempotency-Key), and within a bounded wait each accepted person is exactly once in the contacts
directory and in the analytics customer 360, with exactly the interactions accepted for them;
every process is still running. Finally the analytics read models are rebuilt from the topics
(``crm-analytics-replay --all``) into another MongoDB database and must hold the same documents
about the drills' people as the live ones.

These drills stop the servers every other test uses: marked ``drill``, they run last.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
import uuid
from collections.abc import Callable

import pytest

from crm_platform.testing import BIN
from tests.e2e.drills import (
    CommandStream,
    Platform,
    Tally,
    count_360,
    count_directory,
    read_model_digest,
    report,
    server_down,
)

pytestmark = [pytest.mark.e2e, pytest.mark.drill, pytest.mark.timeout(600)]

RUN = uuid.uuid4().hex[:6]
SEED = 20_261_207
RATE = 20.0  # commands a second
STREAM_SECONDS = 20.0
LEAD_IN = 3.0  # seconds of commands before the fault
KAFKA_OUTAGE = 15.0
RESTART_PAUSE = 2.0  # seconds a restarted server stays down
CONVERGENCE = (
    120.0  # seconds for the read models to show every accepted command (up to 67 s seen under load)
)
DRILLED: list[CommandStream] = []  # every drill's stream, for the replay comparison at the end


def drill(
    platform: Platform, name: str, fault: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    restarted = platform.revive()
    stream = CommandStream(platform.api("contacts"), f"{name}{RUN}", RATE, STREAM_SECONDS).start()
    DRILLED.append(stream)
    try:
        time.sleep(LEAD_IN)
        fault()
    finally:
        stream.join()
    died = platform.dead()
    platform.revive()  # as the supervisor would, so that what was accepted can still arrive
    stream.settle()
    started = time.monotonic()
    tallies = converge(platform, stream)
    with capsys.disabled():
        report(f"[drill {name}] answers {dict(stream.statuses)}")
        report(f"[drill {name}] read models complete {time.monotonic() - started:.0f} s after")
        for tally in tallies:
            report(f"[drill {name}] {tally}")
    assert not restarted, f"dead before the drill: {restarted}"
    assert not died, "died during the drill:\n" + "\n".join(platform.deaths[-len(died) :])
    assert not stream.refusals(), "valid commands refused:\n" + "\n".join(stream.refusals())
    problems = [t for t in tallies if t.lost or t.duplicated]
    assert not problems, "\n".join(
        f"{t}: lost {t.lost[:20]} duplicated {t.duplicated[:20]}" for t in problems
    )


def converge(platform: Platform, stream: CommandStream) -> list[Tally]:
    """The directory and 360 tallies once nothing is missing, or as they stand at the deadline."""
    contacts, analytics = platform.api("contacts"), platform.api("analytics")
    deadline = time.monotonic() + CONVERGENCE
    while True:
        tallies = [count_directory(contacts, stream), *count_360(analytics, stream)]
        if not any(t.lost for t in tallies) or time.monotonic() > deadline:
            return tallies
        time.sleep(2)


def test_workers_sigkilled_at_random_moments(
    whole_platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)

    def kill_workers() -> None:
        for victim in ("analytics-worker", "contacts-worker", "analytics-worker"):
            time.sleep(rng.uniform(1.0, 4.0))
            whole_platform.processes[victim].kill()
            time.sleep(rng.uniform(0.5, 2.0))
            whole_platform.processes[victim].start()

    drill(whole_platform, "workerkill", kill_workers, capsys)


def test_kafka_stopped_for_15_seconds(
    whole_platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    def outage() -> None:
        with server_down("kafka"):
            time.sleep(KAFKA_OUTAGE)

    drill(whole_platform, "kafka", outage, capsys)


@pytest.mark.parametrize("server", ["postgres", "mongo"])
def test_server_restarted(
    whole_platform: Platform, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def restart() -> None:
        with server_down(server):
            time.sleep(RESTART_PAUSE)

    drill(whole_platform, server, restart, capsys)


def test_read_models_equal_a_replay_of_the_topics(
    whole_platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    assert DRILLED, "run with the drills: it compares what they wrote"
    worker = whole_platform.processes["analytics-worker"]
    live = worker.env["CRM_MONGODB_DATABASE"]
    rebuilt = f"{live}_replay"
    # The live groups' committed offsets tell the rebuild how far to read: the same prefix.
    replay = subprocess.run(
        [str(BIN / "crm-analytics-replay"), "--all", "--settle-seconds", "1"],
        env={**os.environ, **worker.env, "CRM_MONGODB_DATABASE": rebuilt},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
    people = {i for stream in DRILLED for i in stream.accepted_people().values()}
    uri = worker.env["CRM_MONGODB_URI"]
    expected = read_model_digest(uri, live, people)
    with capsys.disabled():
        report(f"[replay] {len(people)} people of the drills: {expected}")
    assert expected["customer_360.customers"].startswith(f"{len(people)} documents"), expected
    assert read_model_digest(uri, rebuilt, people) == expected
