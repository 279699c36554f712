"""A worker process as in production (``runtime.run_worker`` on the real Kafka): it serves
/metrics, /healthz and /readyz on CRM_METRICS_PORT; when a part of it dies, /healthz answers 503
naming it, and once the grace period passed the process exits with status 1 for its supervisor.

Run as a script, this module is that worker: its one background loop dies after a moment.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from crm_platform.testing import eventually, free_port

pytestmark = pytest.mark.integration


def test_a_worker_whose_loop_died_says_so_then_exits_for_a_restart(kafka_bootstrap: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CRM_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CRM_METRICS_PORT": str(port),
        "CRM_HEALTH_EXIT_GRACE_SECONDS": "2",
    }
    worker = subprocess.Popen(
        [sys.executable, __file__], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        answers = healthz_until_exit(worker, port, timeout=60)
        output = worker.stdout.read().decode() if worker.stdout else ""
    finally:
        worker.kill()

    assert worker.returncode == 1, output
    assert 200 in answers, output  # alive at first
    dead = [body for status, body in answers.items() if status == 503]
    assert dead and "task:" in dead[0]["detail"] and "doomed" in dead[0]["detail"]
    assert "background loop" in output and "exiting" in output


def healthz_until_exit(
    process: subprocess.Popen[bytes], port: int, timeout: float
) -> dict[int, dict]:
    """The first body seen per status of /healthz while the process runs."""
    answers: dict[int, dict] = {}

    def exited() -> bool:
        if process.poll() is not None:
            return True
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        answers.setdefault(response.status_code, response.json())
        return False

    eventually(
        exited, what="the worker's exit", within=timeout, interval=0.1, retry_on=(httpx.HTTPError,)
    )
    process.wait(timeout=10)
    return answers


def main() -> None:
    from faststream.kafka import KafkaBroker

    from crm_platform.kafka import make_broker
    from crm_platform.runtime import run_worker
    from crm_platform.settings import KafkaSettings

    async def broker() -> KafkaBroker:
        return make_broker(KafkaSettings())

    async def doomed(stop: asyncio.Event) -> None:
        await asyncio.sleep(1.5)
        raise RuntimeError("a loop outside any runner died")

    run_worker("platform-test", broker, lambda: [doomed])


if __name__ == "__main__":
    main()
