"""`make status`: the servers, and per service process its state, PID, restarts, health, and what
its metrics say about quarantined records and dead letters; then the lag of every consumer group
as the lag exporter sees it from outside (so a dead consumer's lag shows too).

    python scripts/platform/status.py STATE_DIR "NAME COMMAND HTTP_PORT METRICS_PORT"...

Reads the supervisor's state file (scripts/platform/supervise.py) and asks each process over
HTTP: an api on its HTTP port, a relay, worker or the lag exporter on its metrics port.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

SERVERS = ("postgres", "kafka", "mongo", "mailsink")
TIMEOUT = 2.0


@dataclass
class Probe:
    """What one process answered: /healthz, /readyz and its metrics' samples."""

    healthz: str = "-"
    readyz: str = "-"
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def total(self, metric: str, by: str) -> dict[str, float]:
        sums: dict[str, float] = defaultdict(float)
        for name, labels, value in self.samples:
            if name == metric:
                sums[labels.get(by, "?")] += value
        return dict(sums)


def get(url: str) -> tuple[int | None, str]:
    """(HTTP status, body); status None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (OSError, ValueError):
        return None, ""


def verdict(status: int | None) -> str:
    # A process that holds its port but does not answer (hung, stopped, overloaded) is not "-".
    if status is None:
        return "no answer"
    return "ok" if status == 200 else str(status)


def probe(port: str) -> Probe:
    base = f"http://127.0.0.1:{port}"
    result = Probe(verdict(get(f"{base}/healthz")[0]), verdict(get(f"{base}/readyz")[0]))
    status, text = get(f"{base}/metrics")
    if status == 200:
        result.samples = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
    return result


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def supervisor_state(pids: Path) -> dict[str, Any]:
    try:
        state = json.loads((pids / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {"processes": []}
    if not alive(state.get("supervisor")):
        state["supervisor"] = None
    return state


def ago(iso: str | None) -> str:
    if not iso:
        return "-"
    seconds = int((datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def counted(values: dict[str, float]) -> str:
    """'-' when nothing, else the total and the labels that contribute: '3 (a=2, b=1)'."""
    positive = {k: v for k, v in values.items() if v > 0}
    if not positive:
        return "0" if values else "-"
    parts = ", ".join(f"{k}={v:g}" for k, v in sorted(positive.items()))
    return f"{sum(positive.values()):g} ({parts})"


def servers(state_dir: Path) -> Iterable[str]:
    for name in SERVERS:
        pid_file = state_dir / "pids" / f"{name}.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        ports = state_dir / "pids" / f"{name}.ports"
        where = f" on {ports.read_text().strip()}" if ports.exists() else ""
        yield f"  {name:<10} " + (f"running (pid {pid}){where}" if alive(pid) else "stopped")


def table(rows: list[list[str]]) -> Iterable[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield (
            "  "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def report(state_dir: Path, entries: list[str]) -> list[str]:
    processes = [entry.split() for entry in entries]
    state = supervisor_state(state_dir / "pids" / "platform")
    known = {p["name"]: p for p in state["processes"]}
    ports = [http if http != "-" else metrics for _, _, http, metrics in processes]
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(probe, ports))
    supervisor = state.get("supervisor")
    lines = ["servers", *servers(state_dir), ""]
    lines.append(f"supervisor: {f'running (pid {supervisor})' if supervisor else 'not running'}")
    rows = [["process", "state", "pid", "restarts", "up", "last exit", "healthz", "readyz",
             "quarantined", "dead letters"]]  # fmt: skip
    for (name, *_), found in zip(processes, probes, strict=True):
        entry = known.get(name, {}) if supervisor else {}
        running = entry.get("state") == "running"
        last_exit = entry.get("last_exit")
        rows.append([
            name,
            entry.get("state", "stopped"),
            str(entry.get("pid") or "-"),
            str(entry.get("restarts", 0)),
            ago(entry.get("started_at")) if running else "-",
            f"{last_exit} {ago(entry.get('last_exit_at'))} ago" if last_exit else "-",
            found.healthz if running else "-",
            found.readyz if running else "-",
            counted(found.total("crm_quarantine_open", "loop")),
            counted(found.total("crm_dead_letters_total", "group")),
        ])  # fmt: skip
    lines += table(rows)
    lines += ["", *lag(probes)]
    return lines


def lag(probes: list[Probe]) -> list[str]:
    """Per consumer group, the lag the exporter measured (committed offsets vs end offsets)."""
    totals: dict[str, float] = {}
    for found in probes:
        totals.update(found.total("crm_consumer_group_lag_total", "group"))
    if not totals:
        return ["consumer groups: no lag exporter answering (crm-lag-exporter)"]
    rows = [["consumer group", "lag"]]
    rows += [[group, f"{value:g}"] for group, value in sorted(totals.items())]
    return list(table(rows))


def main(arguments: list[str]) -> int:
    state_dir, *entries = arguments
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `make status | head` ends quietly
    print("\n".join(report(Path(state_dir), entries)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
