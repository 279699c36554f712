"""Helpers of the whole-platform end-to-end tests (fuzzing, poison, fault drills).

The whole platform: every service's processes (api, relay, worker; analytics has no relay), each
service on a PostgreSQL database of its own, every relay and worker serving its metrics (and,
once the platform has them, /healthz and /readyz) on a port of its own.

The drills stop and start the shared servers through the project's scripts only
(``scripts/infra/<server>.sh down|up``), never by port or PID: the scripts know the addresses.
To rehearse them without disturbing anyone, run a second set of servers (``CRM_INFRA_STATE_DIR``
and ``CRM_INFRA_*_PORT``, see ``scripts/infra/lib.sh``) and point the ``CRM_*`` variables at it
(its ``infra.env``): the scripts the drills call then act on that set.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from crm_platform.testing import ServiceProcess, eventually, free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("contacts", "sales", "marketing", "service-desk", "analytics")
ROLES = {"analytics": ("api", "worker")}  # every other service: api, relay, worker


FIGURES: list[str] = []  # what the fuzzing, poison and drill tests measured, for the run's summary


def report(line: str) -> None:
    """Keep ``line`` for the summary at the end of the run (``conftest``), where CI shows it."""
    FIGURES.append(line.strip("\n"))


def roles(service: str) -> tuple[str, ...]:
    return ROLES.get(service, ("api", "relay", "worker"))


def _trace(response: httpx.Response) -> str:
    """One request and its answer, enough to reproduce it (bodies cut at 2000 characters)."""
    request = response.request
    body = request.content[:2000].decode(errors="replace") if request.content else ""
    return (
        f"{request.method} {request.url} {body!r}\n"
        f"  -> {response.status_code} {response.text[:2000]!r}"
    )


@dataclass
class Platform:
    """Every process of every service, by name (``contacts-api``, ``analytics-worker``...).

    An api answers /healthz on its HTTP port, a relay or a worker on its metrics port."""

    processes: dict[str, ServiceProcess]
    token: str
    deaths: list[str] = field(default_factory=list)  # "<name>: <log tail>", in order

    def api(self, service: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.processes[f"{service}-api"].url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def url(self, service: str) -> str:
        return self.processes[f"{service}-api"].url

    def health_url(self, name: str) -> str:
        process = self.processes[name]
        port = process.port or int(process.env["CRM_METRICS_PORT"])
        return f"http://127.0.0.1:{port}"

    def dead(self) -> list[str]:
        return [
            name
            for name, process in self.processes.items()
            if process.process is None or process.process.poll() is not None
        ]

    def revive(self) -> list[str]:
        """Start again every process that died (recording its log tail in ``deaths``)."""
        dead = self.dead()
        for name in dead:
            process = self.processes[name]
            code = process.process.returncode if process.process else None
            self.deaths.append(f"{name} (exit {code}):\n{process.log_tail(30)}")
            process.start()
        return dead

    def health(self) -> dict[str, str]:
        """Each process: "ok", or what is wrong with it (dead, /healthz failing, not served)."""
        return {name: self._health_of(name) for name in self.processes}

    def _health_of(self, name: str) -> str:
        process = self.processes[name]
        if process.process is None or process.process.poll() is not None:
            return f"dead: {process.log_tail(15)}"
        try:
            response = httpx.get(f"{self.health_url(name)}/healthz", timeout=5)
        except httpx.HTTPError as error:
            return f"/healthz unreachable: {error!r}"
        if response.status_code != 200:
            return f"/healthz {response.status_code}: {response.text[:500]}"
        return "ok"

    def stop(self) -> None:
        with ThreadPoolExecutor(max_workers=len(self.processes)) as pool:
            list(pool.map(ServiceProcess.stop, self.processes.values()))


def start_platform(
    env: dict[str, str], create_database: Callable[[str], str], logs: Path, token: str
) -> Platform:
    """Start all processes: the apis two at a time until each is ready (each imports for seconds
    of CPU; all at once on two cores, some miss their minute), then the relays and workers."""
    processes: dict[str, ServiceProcess] = {}
    for service in SERVICES:
        own = env | {"CRM_POSTGRES_DATABASE": create_database(f"e2e_{service.replace('-', '_')}")}
        if service == "service-desk":
            own["CRM_SERVICE_DESK_SMTP_PORT"] = str(free_port())  # its inbound mail listener
        for role in roles(service):
            name = f"{service}-{role}"
            extra = {} if role == "api" else {"CRM_METRICS_PORT": str(free_port())}
            port = free_port() if role == "api" else None
            processes[name] = ServiceProcess(f"crm-{name}", own | extra, logs, port)
    platform = Platform(processes, token)
    try:
        apis = [p for p in processes.values() if p.port is not None]
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(ServiceProcess.start, apis))
        for process in processes.values():
            if process.port is None:
                process.start()
    except BaseException:
        platform.stop()
        raise
    return platform


# --- Waiting ------------------------------------------------------------------------------------


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """``check()``'s first truthy result (the platform's ``eventually``); an HTTP or socket error
    of ``check`` counts as "not yet": servers may be restarting."""
    return eventually(
        check, what=what, within=timeout, interval=interval, retry_on=(httpx.HTTPError, OSError)
    )


# --- Commands that keep arriving ----------------------------------------------------------------


@dataclass
class Command:
    """One POST with its Idempotency-Key: re-sent with the same key until it gets an answer."""

    path: str
    body: dict[str, Any]
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    answer: dict[str, Any] | None = None  # the 201 body once accepted
    refusal: str | None = None  # a definite 4xx refusal


@dataclass
class CommandStream:
    """Registers people and logs their interactions at about ``rate`` commands a second for
    ``seconds``, from ``senders`` threads (one request at a time each: under load a request takes
    longer than 1/rate), counting what contacts accepted.

    A command that got no answer (connection refused, timeout, 5xx: a server is down) is kept and
    sent again with its key later; at the end every one is either accepted or refused, so that
    nothing "maybe stored" is left to blur the count. People are named ``<label>-<n>`` under one
    family name per stream, to find them in the directory."""

    contacts: httpx.Client
    label: str
    rate: float = 20.0
    seconds: float = 30.0
    senders: int = 4
    people: dict[str, Command] = field(default_factory=dict)  # given name -> registration
    interactions: dict[str, list[Command]] = field(default_factory=dict)  # given -> commands
    statuses: Counter[str] = field(default_factory=Counter)  # every answer seen, for the report
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: Iterator[int] = field(default_factory=itertools.count)

    @property
    def family(self) -> str:
        return f"Drill{self.label}"

    def start(self) -> CommandStream:
        deadline = time.monotonic() + self.seconds
        for _ in range(self.senders):
            thread = threading.Thread(target=self._run, args=(deadline,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=self.seconds + 120)

    def _run(self, deadline: float) -> None:
        interval = self.senders / self.rate
        while (tick := time.monotonic()) < deadline:
            self.send(self._next(next(self._count)))
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))

    def _next(self, n: int) -> Command:
        """A registration every fourth command (or while none is accepted yet), else an
        interaction of an accepted person."""
        with self._lock:
            accepted = [given for given, c in self.people.items() if c.answer is not None]
            if n % 4 == 0 or not accepted:
                given = f"{self.label}-{len(self.people)}"
                command = Command(
                    "/customers",
                    {
                        "given_name": given,
                        "family_name": self.family,
                        "emails": [{"address": f"{given}@drill.example.org"}],
                    },
                )
                self.people[given] = command
                self.interactions[given] = []
                return command
            given = accepted[n % len(accepted)]
            customer_id = self.people[given].answer["id"]  # type: ignore[index]
            command = Command(
                f"/customers/{customer_id}/interactions",
                {
                    "channel": "phone",
                    "direction": "inbound",
                    "summary": f"call {n}",
                    "occurred_at": datetime.now(UTC).isoformat(),
                },
            )
            self.interactions[given].append(command)
            return command

    def send(self, command: Command) -> None:
        if command.answer is not None or command.refusal is not None:
            return
        try:
            response = self.contacts.post(
                command.path, json=command.body, headers={"Idempotency-Key": command.key}
            )
        except httpx.HTTPError as error:
            self._count_answer(type(error).__name__)
            return
        self._count_answer(str(response.status_code))
        if response.status_code in (200, 201):
            command.answer = response.json()
        elif 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            command.refusal = _trace(response)

    def _count_answer(self, answer: str) -> None:
        with self._lock:
            self.statuses[answer] += 1

    def settle(self, timeout: float = 90) -> None:
        """Send every unanswered command again until each has an answer (servers are back)."""

        def unanswered() -> list[Command]:
            commands = [
                *self.people.values(),
                *(c for cs in self.interactions.values() for c in cs),
            ]
            return [c for c in commands if c.answer is None and c.refusal is None]

        def all_answered() -> bool:
            for command in unanswered():
                self.send(command)
            return not unanswered()

        wait_until(f"answers to the commands of {self.label}", all_answered, timeout, 1.0)

    def accepted_people(self) -> dict[str, str]:
        """Given name -> customer id of every accepted registration."""
        return {g: c.answer["id"] for g, c in self.people.items() if c.answer is not None}

    def accepted_interactions(self) -> dict[str, set[str]]:
        """Customer id -> ids of its accepted interactions."""
        people = self.accepted_people()
        return {
            people[given]: {c.answer["interaction_id"] for c in commands if c.answer is not None}
            for given, commands in self.interactions.items()
            if given in people
        }

    def refusals(self) -> list[str]:
        commands = [*self.people.values(), *(c for cs in self.interactions.values() for c in cs)]
        return [c.refusal for c in commands if c.refusal is not None]


# --- What the read models hold ------------------------------------------------------------------


@dataclass
class Tally:
    """Accepted commands of one kind against what a read model shows of them."""

    what: str
    accepted: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.what}: accepted {self.accepted}, lost {len(self.lost)},"
            f" duplicated {len(self.duplicated)}"
        )


def directory_people(contacts: httpx.Client, family: str) -> list[dict[str, Any]]:
    """Every directory entry a search for ``family`` finds, across pages."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"q": family, "limit": 100}
    for _ in range(1000):  # pages; bounded
        response = contacts.get("/customers", params=params)
        response.raise_for_status()
        page = response.json()
        found.extend(page["items"])
        if not page.get("next_cursor"):
            return found
        params["cursor"] = page["next_cursor"]
    raise AssertionError(f"more than 1000 pages of {family}")


def count_directory(contacts: httpx.Client, stream: CommandStream) -> Tally:
    people = stream.accepted_people()
    listed = Counter(entry["id"] for entry in directory_people(contacts, stream.family))
    tally = Tally("directory people", accepted=len(people))
    tally.lost = [f"{g} {i}" for g, i in people.items() if listed[i] == 0]
    tally.duplicated = [f"{g} {i} x{listed[i]}" for g, i in people.items() if listed[i] > 1]
    return tally


def count_360(analytics: httpx.Client, stream: CommandStream) -> tuple[Tally, Tally]:
    """(people, interactions) as the analytics customer 360 shows them. A person counts once
    the profile's given name reads as registered: the personal-data key arrived too."""
    people, interactions = Tally("360 people"), Tally("360 interactions")
    accepted = stream.accepted_interactions()
    for given, customer_id in stream.accepted_people().items():
        expected = accepted[customer_id]
        people.accepted += 1
        interactions.accepted += len(expected)
        response = analytics.get(f"/customers/{customer_id}/360", params={"limit": 200})
        view = response.json() if response.status_code == 200 else {}
        profile = view.get("profile") or {}
        if profile.get("given_name") != given:
            people.lost.append(f"{given} {customer_id}: {profile or response.status_code}")
        shown = Counter(e["id"] for e in view.get("timeline", []) if e.get("kind") == "interaction")
        interactions.lost.extend(sorted(expected - shown.keys()))
        interactions.duplicated.extend(f"{i} x{n}" for i, n in shown.items() if n > 1)
        if view.get("interaction_count", 0) > len(expected):
            interactions.duplicated.append(f"{customer_id}: {view['interaction_count']} counted")
    return people, interactions


def read_model_digest(mongo_uri: str, database: str, customer_ids: set[str]) -> dict[str, str]:
    """SHA-256 per read model and logical collection of the documents about ``customer_ids``
    (``_id`` or ``customer_id`` among them) in the generation each model's alias serves."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    try:
        db = client[database]
        digests = {}
        for alias in db["read_models"].find():
            prefix, suffix = f"{alias['_id']}__", f"__g{alias['active']}"
            for name in db.list_collection_names():
                if not (name.startswith(prefix) and name.endswith(suffix)):
                    continue
                ids = sorted(customer_ids)
                documents = db[name].find(
                    {"$or": [{"_id": {"$in": ids}}, {"customer_id": {"$in": ids}}]}
                )
                canonical = sorted(json.dumps(d, sort_keys=True, default=str) for d in documents)
                if not canonical:  # a rebuild creates collections that live traffic never wrote
                    continue
                logical = name[len(prefix) : -len(suffix)]
                digest = hashlib.sha256("\n".join(canonical).encode()).hexdigest()
                digests[f"{alias['_id']}.{logical}"] = f"{len(canonical)} documents {digest[:16]}"
        return digests
    finally:
        client.close()


# --- The shared servers -------------------------------------------------------------------------


def infra(server: str, action: str) -> str:
    """``scripts/infra/<server>.sh <action>``; its output. Fails when the script fails."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "infra" / f"{server}.sh"), action],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{server}.sh {action} failed ({done.returncode}):\n{output}"
    return output


@contextmanager
def server_down(server: str) -> Iterator[None]:
    """The server stopped for the body's duration, and started again whatever happens."""
    infra(server, "down")
    try:
        yield
    finally:
        infra(server, "up")


# --- helpers of the tests that run several services as processes -------------------------------


def scoped_client(process: ServiceProcess, *scopes: str) -> httpx.Client:
    """A client of ``process`` holding a development token with ``scopes`` only."""
    from crm_platform.devtoken import issue_token

    token = issue_token(list(scopes), "dpo@crm.local")
    return httpx.Client(
        base_url=process.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


def created(client: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    """POST a command under a fresh Idempotency-Key; the record it created."""
    response = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response.json()


def marketing_holds(env: dict[str, str], customer_id: str, topic_like: str = "%") -> bool:
    """Marketing's event store holds an event of the person whose topic is LIKE ``topic_like``."""
    import psycopg

    dsn = (
        f"host={env['CRM_POSTGRES_HOST']} port={env['CRM_POSTGRES_PORT']} "
        f"user={env['CRM_POSTGRES_USER']} password={env['CRM_POSTGRES_PASSWORD']} "
        f"dbname={env['CRM_POSTGRES_DATABASE']}"
    )
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT 1 FROM marketing_events WHERE originator_id = %s AND topic LIKE %s LIMIT 1",
                (uuid.UUID(customer_id), topic_like),
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return False
    return row is not None
