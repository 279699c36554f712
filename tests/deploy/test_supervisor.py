"""scripts/platform/supervise.py, the supervisor of `make up`, with real processes (tiny scripts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_platform.testing import eventually

SUPERVISOR = Path(__file__).resolve().parents[2] / "scripts/platform/supervise.py"


@pytest.mark.unit
def test_backoff_doubles_from_one_second_up_to_a_minute(supervise):
    assert [supervise.backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.unit
def test_exit_descriptions_name_the_status_or_the_signal(supervise):
    assert supervise.exit_description(3) == "status 3"
    assert supervise.exit_description(-9) == "signal SIGKILL"


class Running:
    """A supervisor started on fake commands, with helpers to read what it recorded."""

    def __init__(self, tmp_path: Path, commands: dict[str, str]) -> None:
        self.bin = tmp_path / "bin"
        self.state = tmp_path / "state"
        self.logs = tmp_path / "logs"
        self.bin.mkdir()
        entries = []
        for name, body in commands.items():
            script = self.bin / name
            script.write_text(f"#!/bin/sh\n{body}\n")
            script.chmod(0o755)
            entries.append(f"{name} {name} - 0")
        self.process = subprocess.Popen(
            [sys.executable, str(SUPERVISOR), "--state", str(self.state), "--logs", str(self.logs),
             "--bin", str(self.bin), "--stop-grace", "3", *entries],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip

    def processes(self) -> dict[str, dict[str, Any]]:
        try:
            document = json.loads((self.state / "supervisor.json").read_text())
        except (OSError, ValueError):
            return {}
        return {p["name"]: p for p in document["processes"]}


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Running]]:
    started: list[Running] = []

    def start(commands: dict[str, str]) -> Running:
        started.append(Running(tmp_path, commands))
        return started[-1]

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    return state != "Z"


def test_a_crashing_process_is_restarted_with_growing_delays_and_counted(supervisor):
    running = supervisor({"crasher": "exit 3", "steady": "exec sleep 600"})
    eventually(
        lambda: running.processes().get("crasher", {}).get("restarts", 0) >= 3,
        what="crasher restarted three times",
    )
    crasher, steady = running.processes()["crasher"], running.processes()["steady"]
    assert crasher["last_exit"] == "status 3"
    assert steady["state"] == "running" and steady["restarts"] == 0
    running.process.send_signal(signal.SIGTERM)
    output, _ = running.process.communicate(timeout=30)
    restarts = [line for line in output.splitlines() if "crasher: exited (status 3)" in line]
    delays = [line.rsplit(" in ", 1)[1] for line in restarts]
    assert delays[:3] == ["1s", "2s", "4s"], output


def test_a_command_that_cannot_start_is_retried_and_the_others_run(supervisor):
    running = supervisor({"steady": "exec sleep 600", "broken": "exit 0"})
    (running.bin / "broken").unlink()  # not installed: Popen raises, the supervisor goes on
    eventually(
        lambda: running.processes().get("broken", {}).get("restarts", 0) >= 2,
        what="broken retried twice",
    )
    broken, steady = running.processes()["broken"], running.processes()["steady"]
    assert broken["last_exit"].startswith("not started: ")
    assert steady["state"] == "running" and running.process.poll() is None


def test_stopping_the_supervisor_stops_every_process_and_restarts_none(supervisor):
    running = supervisor({"steady": "exec sleep 600", "stubborn": "trap '' TERM; sleep 600"})
    eventually(
        lambda: (
            len(started := running.processes()) == 2 and all(p["pid"] for p in started.values())
        ),
        what="both processes started",
    )
    pids = [p["pid"] for p in running.processes().values()]
    running.process.send_signal(signal.SIGTERM)
    output, _ = running.process.communicate(timeout=20)
    assert running.process.returncode == 0
    assert not any(alive(pid) for pid in pids)
    assert "stubborn: still running after 3s: SIGKILL" in output
    assert {p["state"] for p in running.processes().values()} == {"stopped"}
    assert "started" not in output.split("stopping 2 processes")[1]


def test_a_killed_supervisor_takes_its_processes_with_it(supervisor):
    running = supervisor({"steady": "exec sleep 600"})
    eventually(lambda: running.processes().get("steady", {}).get("pid"), what="steady started")
    pid = running.processes()["steady"]["pid"]
    running.process.kill()
    running.process.wait()
    eventually(lambda: not alive(pid), what=f"process {pid} gone", within=10)


def test_only_one_supervisor_runs_per_state_folder(supervisor, tmp_path: Path):
    running = supervisor({"steady": "exec sleep 600"})
    eventually(lambda: running.processes().get("steady", {}).get("pid"), what="steady started")
    second = subprocess.run(
        [sys.executable, str(SUPERVISOR), "--state", str(running.state), "--logs",
         str(tmp_path / "logs2"), "--bin", str(running.bin), "steady steady - 0"],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert second.returncode == 1
    assert "another supervisor is running" in second.stderr
