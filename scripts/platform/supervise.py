"""Keeps `make up`'s service processes running: one supervisor for all of them.

    python scripts/platform/supervise.py --state DIR --logs DIR "NAME COMMAND HTTP_PORT METRICS_PORT"...

Each entry is a line of scripts/platform/processes.sh. A process that exits, whatever its status,
is started again after an exponential backoff (1 s, 2 s, 4 s... capped at 60 s); a process that
ran for a minute before it exited starts the sequence again from 1 s. Every exit and restart is
logged (stdout, i.e. .local/logs/platform/supervisor.log) with the time and the exit status, and
counted in DIR/supervisor.json, which `make status` reads.

Why not PyPI's supervisor: its restarts of a process that had started are immediate (its backoff
only covers a process that dies while starting, and gives up after `startretries`).

SIGTERM or SIGINT stops the supervisor: no restart happens any more, every process gets SIGTERM
(its whole process group), SIGKILL after 15 s, then the supervisor exits. Each process also gets
SIGTERM from the kernel if the supervisor dies without that (PR_SET_PDEATHSIG), so a killed
supervisor leaves no orphan behind, and one flock makes sure two supervisors never run at once.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0
STABLE_AFTER = 60.0  # seconds of running that forgive the earlier crashes
STOP_GRACE = 15.0
TICK = 0.2
PR_SET_PDEATHSIG = 1


def backoff(streak: int, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> float:
    """Delay before the restart after ``streak`` exits in a row without a stable run (1, 2...)."""
    return min(cap, first * 2 ** max(0, streak - 1))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def exit_description(returncode: int) -> str:
    """Popen's return code as people read it: "status 1" or "signal SIGKILL"."""
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"status {returncode}"


@dataclass
class Process:
    name: str
    command: str
    http_port: str
    metrics_port: str
    state: str = "starting"  # running, backoff, stopped
    pid: int | None = None
    restarts: int = 0
    started_at: str | None = None
    last_exit: str | None = None
    last_exit_at: str | None = None
    next_start_at: str | None = None
    streak: int = 0
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _started: float = 0.0
    _due: float = 0.0

    @classmethod
    def parse(cls, entry: str) -> Process:
        name, command, http_port, metrics_port = entry.split()
        return cls(name, command, http_port, metrics_port)

    def public(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


def database_login(name: str, roles: Path | None, env: dict[str, str]) -> None:
    """Least privilege: the processes of a service (``<service>-<role>``) log in to PostgreSQL as
    the service's own role, with the password file scripts/infra/postgres.sh made for it, instead
    of the administrator the tests use. Processes of no database are left as they are."""
    database = name.rsplit("-", 1)[0].replace("-", "_")
    secret = roles / f"crm_{database}.password" if roles else None
    if secret is None or not secret.is_file():
        return
    env.pop("CRM_POSTGRES_PASSWORD", None)
    env["CRM_POSTGRES_USER"] = f"crm_{database}"
    env["CRM_POSTGRES_PASSWORD_FILE"] = str(secret)


def die_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGTERM when the supervisor dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(
        self,
        processes: list[Process],
        state: Path,
        logs: Path,
        bin_dir: Path,
        stop_grace: float = STOP_GRACE,
        database_roles: Path | None = None,
    ) -> None:
        self.processes = processes
        self.database_roles = database_roles
        self.stop_grace = stop_grace
        self.state_file = state / "supervisor.json"
        self.logs = logs
        self.bin_dir = bin_dir
        self.stopping = False

    def say(self, message: str) -> None:
        print(f"{now_iso()} {message}", flush=True)

    def spawn(self, process: Process) -> None:
        env = dict(os.environ)
        if process.http_port != "-":
            env["CRM_HTTP_PORT"] = process.http_port
        else:
            env["CRM_METRICS_PORT"] = process.metrics_port
        database_login(process.name, self.database_roles, env)
        process._started = time.monotonic()
        try:
            with open(self.logs / f"{process.name}.log", "ab") as log:
                process._popen = subprocess.Popen(
                    [str(self.bin_dir / process.command)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,  # safe: the supervisor has one thread
                )
        except OSError as error:  # a command not installed (yet): retried like a crash
            self.retry(process, f"not started: {error}")
            return
        process.pid, process.state = process._popen.pid, "running"
        process.started_at, process.next_start_at = now_iso(), None
        self.say(f"{process.name}: started (pid {process.pid})")

    def reap(self, process: Process) -> None:
        """A process that exited: record it and schedule its restart."""
        assert process._popen is not None
        self.retry(process, exit_description(process._popen.returncode))

    def retry(self, process: Process, outcome: str) -> None:
        """Record how the process ended and when it starts again (the backoff)."""
        ran = time.monotonic() - process._started
        process.streak = 1 if ran >= STABLE_AFTER else process.streak + 1
        delay = backoff(process.streak)
        process.last_exit, process.last_exit_at = outcome, now_iso()
        process.pid, process._popen, process.state = None, None, "backoff"
        process._due = time.monotonic() + delay
        process.next_start_at = datetime.fromtimestamp(time.time() + delay, UTC).isoformat(
            timespec="seconds"
        )
        self.say(
            f"{process.name}: exited ({outcome}) after {ran:.1f}s;"
            f" restart {process.restarts + 1} in {delay:g}s"
        )

    def step(self) -> bool:
        """One pass: reap what exited, start what is due. True when anything changed."""
        changed = False
        for process in self.processes:
            if process._popen is not None and process._popen.poll() is not None:
                self.reap(process)
                changed = True
            elif process._popen is None and time.monotonic() >= process._due:
                if process.state == "backoff":
                    process.restarts += 1
                self.spawn(process)
                changed = True
        return changed

    def write_state(self) -> None:
        document = {
            "supervisor": os.getpid(),
            "updated_at": now_iso(),
            "stopping": self.stopping,
            "processes": [process.public() for process in self.processes],
        }
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2))
        temporary.replace(self.state_file)

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.say(f"supervisor (pid {os.getpid()}) starts {len(self.processes)} processes")
        self.write_state()
        while not self.stopping:
            if self.step():
                self.write_state()
            time.sleep(TICK)
        self.stop_all()

    def request_stop(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def stop_all(self) -> None:
        running = [p for p in self.processes if p._popen is not None]
        self.say(f"stopping {len(running)} processes (SIGTERM, SIGKILL after {self.stop_grace:g}s)")
        self.write_state()
        for process in running:
            signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while time.monotonic() < deadline and any(p._popen.poll() is None for p in running):  # type: ignore[union-attr]
            time.sleep(TICK)
        for process in running:
            assert process._popen is not None
            if process._popen.poll() is None:
                self.say(f"{process.name}: still running after {self.stop_grace:g}s: SIGKILL")
                signal_group(process, signal.SIGKILL)
                process._popen.wait()
            self.say(f"{process.name}: stopped ({exit_description(process._popen.returncode)})")
        for process in self.processes:
            process.state, process.pid, process._popen, process.next_start_at = (
                "stopped",
                None,
                None,
                None,
            )
        self.write_state()
        self.say("supervisor stopped")


def signal_group(process: Process, sig: signal.Signals) -> None:
    assert process._popen is not None
    try:
        os.killpg(process._popen.pid, sig)
    except ProcessLookupError:
        pass


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="where supervisor.json goes")
    parser.add_argument("--logs", type=Path, required=True, help="one <name>.log per process")
    parser.add_argument("--bin", type=Path, default=Path(sys.executable).parent)
    parser.add_argument("--stop-grace", type=float, default=STOP_GRACE, help="SIGTERM to SIGKILL")
    parser.add_argument(
        "--database-roles", type=Path, help="the services' PostgreSQL role passwords (postgres.sh)"
    )
    parser.add_argument("entries", nargs="+", help='"name command http_port metrics_port"')
    options = parser.parse_args(arguments)
    options.state.mkdir(parents=True, exist_ok=True)
    options.logs.mkdir(parents=True, exist_ok=True)
    lock = open(options.state / "supervisor.lock", "w")  # held (locked) until the exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("another supervisor is running for this checkout", file=sys.stderr)
        return 1
    processes = [Process.parse(entry) for entry in options.entries]
    Supervisor(
        processes,
        options.state,
        options.logs,
        options.bin,
        options.stop_grace,
        options.database_roles,
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
