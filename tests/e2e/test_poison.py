"""Poison through every public write path; afterwards every process lives and ordinary commands
still reach every read model.

- Every POST, PATCH and PUT route of every service, found in its live OpenAPI document: a body
  shaped by the route's schema whose free-text strings are NUL, other control characters, a lone
  surrogate or 1 MB long, or whose numbers are too large for any field; and 10,000-deep nested
  JSON. Each must be refused with a 4xx problem; never a 5xx, never accepted.
- A CSV import whose cells hold NUL, control characters and invalid UTF-8, and one whose header
  field is 200 KiB long.
- An inbound mail to the service desk's SMTP listener with NUL and control characters.
- On every topic of the event registry (which includes every topic a worker consumes): a raw
  garbage message and a well-formed event whose strings hold NUL and control characters. Every
  consumer group of the platform must get past both (commit beyond them), not stop on them.

Then each process is alive (and healthy, where it serves /healthz) and a person registered, a
ticket opened and a lead captured afterwards reach the contacts directory and the analytics
customer 360 within a bounded wait.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from crm_events import registry
from crm_events.personal import new_key, seal
from crm_platform.relay import key_issued_event
from tests.e2e.drills import SERVICES, Platform, directory_people, report, wait_until

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "libs" / "events" / "examples"
RUN = uuid.uuid4().hex[:8]

STRING_POISONS = {
    "NUL": "a\x00b",
    "control characters": "a\x01\x07\x08\x1b\x7f\x85\x9fb",
    "lone surrogate": "a\ud800b",
    "1 MB string": "x" * 1_000_000,
}
HUGE_NUMBERS = {
    "5000-digit integer": "1" + "0" * 5000,
    "float overflowing to infinity": "1e400",
}
DEEP = 10_000
HUGE = "__e2e_huge_number__"  # stands for the huge number in the body until it is serialised


# --- Bodies shaped by the OpenAPI schemas -------------------------------------------------------


class Shaper:
    """A plausible instance of a JSON schema whose free-text strings are ``text`` and whose
    numbers are ``number``: constrained strings (enums, formats, patterns) stay valid, so that
    a refusal is about the poison and not about another field."""

    def __init__(self, document: dict[str, Any], text: str, number: Any) -> None:
        self.document, self.text, self.number = document, text, number

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def instance(self, schema: dict[str, Any], depth: int = 0) -> Any:
        schema = self.resolve(schema)
        for choice in ("anyOf", "oneOf", "allOf"):
            if choice in schema:
                options = [self.resolve(s) for s in schema[choice]]
                return self.instance(next((s for s in options if s.get("type") != "null"), {}))
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        if depth > 6:
            return None
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if kind == "object":
            properties = {
                name: sub
                for name, sub in schema.get("properties", {}).items()
                # The honeypot ("must be empty"): filled in, the submission is dropped unread.
                if "must be empty" not in sub.get("description", "").lower()
            }
            body = {name: self.instance(sub, depth + 1) for name, sub in properties.items()}
            extra = schema.get("additionalProperties")
            if not properties and isinstance(extra, dict):
                body["e2e"] = self.instance(extra, depth + 1)
            return body
        if kind == "array":
            return [self.instance(schema.get("items", {}), depth + 1)] * max(
                1, schema.get("minItems", 1)
            )
        if kind in ("integer", "number"):
            return self.number if self.number is not None else schema.get("minimum", 1)
        if kind == "boolean":
            return True
        return self.string(schema)

    def string(self, schema: dict[str, Any]) -> str:
        formats = {
            "uuid": lambda: str(uuid.uuid4()),
            "date-time": lambda: datetime.now(UTC).isoformat(),
            "date": lambda: date.today().isoformat(),
            "email": lambda: f"poison.{RUN}@example.org",
            "uri": lambda: "https://example.org/e2e",
        }
        if schema.get("format") in formats:
            return formats[schema["format"]]()
        if "pattern" in schema:
            examples = schema.get("examples") or [schema.get("example")]
            if examples and examples[0] is not None:
                return str(examples[0])
        return self.text


def write_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in ("post", "patch", "put"):
                yield method.upper(), path, operation


def json_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema")


def fill_path(path: str, operation: dict[str, Any], shaper: Shaper, known: dict[str, str]) -> str:
    """The path with its parameters: a known record's id where one is given (so that a route
    of an existing record reaches its handler), else a value of the parameter's schema."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = known.get(name) or shaper.instance(parameter.get("schema", {}))
            path = path.replace("{" + name + "}", str(value))
    return path


def poisoned_requests(
    document: dict[str, Any], known: dict[str, str]
) -> Iterator[tuple[str, str, str, bytes]]:
    """(what, method, path, body) of every poisoned request for every write route."""
    for method, path, operation in write_operations(document):
        schema = json_schema(operation)
        if schema is None:
            continue
        url = fill_path(path, operation, Shaper(document, "e2e", None), known)
        for what, poison in STRING_POISONS.items():
            body = Shaper(document, poison, None).instance(schema)
            if poison in _strings(body):  # routes without free text have nothing to poison
                yield what, method, url, json.dumps(body).encode()
        for what, number in HUGE_NUMBERS.items():
            text = json.dumps(Shaper(document, "e2e", HUGE).instance(schema))
            if HUGE in text:
                yield what, method, url, text.replace(f'"{HUGE}"', number).encode()
        yield f"{DEEP}-deep JSON", method, url, ('{"a":' * DEEP + "1" + "}" * DEEP).encode()


@pytest.fixture(scope="module")
def known(whole_platform: Platform) -> dict[str, str]:
    """Path parameters naming a record that exists: a person every service may refer to."""
    person = {"given_name": "Target", "family_name": f"Poison{RUN}"}
    return {"customer_id": _created(whole_platform.api("contacts"), "/customers", person)["id"]}


@pytest.mark.parametrize("service", SERVICES)
def test_every_write_route_refuses_poison(
    whole_platform: Platform, known: dict[str, str], service: str
) -> None:
    api = whole_platform.api(service)
    document = api.get("/openapi.json", timeout=60).raise_for_status().json()
    failures, sent = [], 0
    for what, method, url, body in poisoned_requests(document, known):
        sent += 1
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        try:
            response = api.request(method, url, content=body, headers=headers, timeout=30)
        except httpx.HTTPError as error:
            failures.append(f"{what}: {method} {url}: no answer ({error!r})")
            continue
        if not 400 <= response.status_code < 500:
            request = f"{method} {url} body {body[:300]!r}... ({len(body)} bytes)"
            failures.append(f"{what}: {request}\n  -> {response.status_code} {response.text[:600]}")
    # Analytics is read-only: none today, but a write route it gains is poisoned too.
    report(f"[poison] {service}: {sent} poisoned requests, {len(failures)} not refused with a 4xx")
    assert not failures, "\n".join(failures)


# --- CSV import ---------------------------------------------------------------------------------


def test_a_csv_import_refuses_bad_cells_and_a_huge_header(whole_platform: Platform) -> None:
    contacts = whole_platform.api("contacts")
    family = f"Csvpoison{RUN}"
    rows = [
        b"given_name,family_name,email",
        f"good,{family},good.{RUN}@example.org".encode(),
        f"nul\x00,{family},nul.{RUN}@example.org".encode(),
        f"controls\x01\x1b\x7f,{family},ctl.{RUN}@example.org".encode(),
        f"c1\x85\x9f,{family},c1.{RUN}@example.org".encode(),
    ]
    csv = {"Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())}
    response = contacts.post("/imports/people", content=b"\r\n".join(rows) + b"\r\n", headers=csv)
    assert response.status_code in (200, 202), _answer(response)
    job = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        report = contacts.get(f"/imports/{job}").raise_for_status().json()
        return report if report["status"] != "running" else None

    report = wait_until(f"import {job} to finish", finished, timeout=60)
    assert report["status"] == "completed", report
    assert (report["created"], report["rejected"]) == (1, 3), report
    listed = wait_until(
        "the good row in the directory", lambda: directory_people(contacts, family), timeout=60
    )
    assert len(listed) == 1, listed

    # A file that is not UTF-8 (a lone surrogate's bytes), and a 200 KiB column name: refused
    # whole, and nothing of them imported.
    for refused in (
        b"given_name,family_name\r\nbad\xed\xa0\x80\xff," + family.encode() + b"\r\n",
        b"given_name,family_name," + b"h" * 200 * 1024 + b"\r\nhuge," + family.encode() + b",x\r\n",
    ):
        csv["Idempotency-Key"] = str(uuid.uuid4())
        response = contacts.post("/imports/people", content=refused, headers=csv)
        assert response.status_code in (413, 415, 422), _answer(response)
    time.sleep(2)
    assert len(directory_people(contacts, family)) == 1


def _answer(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url} -> {response.status_code} {response.text[:1000]}"


# --- Inbound mail -------------------------------------------------------------------------------


def test_an_inbound_mail_with_nul_and_control_characters(whole_platform: Platform) -> None:
    port = int(whole_platform.processes["service-desk-worker"].env["CRM_SERVICE_DESK_SMTP_PORT"])
    sender = f"poison.{RUN}@example.org"
    raw = (
        f"From: Poison <{sender}>\r\nTo: support@crm.example\r\n"
        f"Message-ID: <poison.{RUN}@example.org>\r\n"
        "Subject: Help\x00 me\x01\x1b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "My order\x00 broke\x07\x08 \x7f twice.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail(sender)
        smtp.rcpt("support@crm.example")
        code, reply = smtp.data(raw)
    text = reply.decode(errors="replace")
    # Accepted with the text cleaned, or refused for good; a temporary failure (4xx) would have
    # the sending server retry the same poison for days.
    assert code == 250 or 500 <= code < 600, f"DATA answered {code} {text}"
    if code == 250:
        reference = text.rsplit(" ", 1)[-1]
        desk = whole_platform.api("service-desk")
        ticket = wait_until(
            f"ticket {reference}",
            lambda: desk.get(f"/tickets/by-reference/{reference}").raise_for_status().json(),
            timeout=30,
        )
        stored = json.dumps(ticket, ensure_ascii=False)
        assert not any(c in stored for c in "\x00\x01\x07\x08\x1b\x7f"), stored[:2000]


# --- Kafka --------------------------------------------------------------------------------------


def poisoned_event(model: type, subject: uuid.UUID, key: bytes) -> bytes | None:
    """An event of ``model`` from its golden example, with fresh ids, whose every string that
    can hold it (the event still parses) holds NUL and control characters, sealed ones too."""
    example = EXAMPLES / f"{model.__name__.removesuffix('V2')}.v{model.schema_version}.json"
    if not example.exists():  # a contract still being written: its golden example comes with it
        return None
    raw = json.loads(example.read_text())
    fresh: dict[str, str] = {}
    text = json.dumps(raw)
    for old in {v for v in _strings(raw) if _is_uuid(v)}:
        text = text.replace(old, fresh.setdefault(old, str(uuid.uuid4())))
    event = json.loads(text)
    poison = "\x00\x01\x1b"
    for path in list(_leaves(event["data"])):
        value = _get(event["data"], path)
        if isinstance(value, dict):  # sealed: its plaintext poisoned, under a key we publish
            sealed = seal(f"sealed{poison}", key=key, subject=subject)
            _set(event["data"], path, sealed.model_dump(mode="json"))
            continue
        _set(event["data"], path, value + poison)
        try:
            registry.parse(json.dumps(event).encode())
        except Exception:
            _set(event["data"], path, value)
    return json.dumps(event).encode()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of the string leaves and of the sealed values."""
    if isinstance(value, dict) and value.keys() == {"kid", "alg", "iv", "ct"}:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    elif isinstance(value, str) and not _is_uuid(value):
        yield path


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    _get(value, path[:-1])[path[-1]] = new


async def _produce_poison(bootstrap: str) -> dict[TopicPartition, int]:
    """Garbage and a NUL event on every registry topic; the offset of each by partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    offsets: dict[TopicPartition, int] = {}
    try:
        subject, key = uuid.uuid4(), new_key()
        issued = key_issued_event(subject, key, source_service="e2e")
        await producer.send_and_wait(issued.data.topic(), issued.to_json(), key=issued.kafka_key())
        for topic in registry.topics():
            events = [poisoned_event(model, subject, key) for model in registry.models_on(topic)]
            for value in (b"\x00garbage\xff{not json", *filter(None, events)):
                meta = await producer.send_and_wait(topic, value, key=f"poison-{RUN}".encode())
                partition = TopicPartition(meta.topic, meta.partition)
                offsets[partition] = max(offsets.get(partition, -1), meta.offset)
    finally:
        await producer.stop()
    return offsets


async def _poison_progress(
    bootstrap: str, prefix: str, poison: dict[TopicPartition, int]
) -> tuple[int, list[str]]:
    """How many (group, poisoned partition) pairs the platform's groups consume, and those
    whose group has not committed past the poison yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)]
        consumed, stuck = 0, []
        for group in groups:
            assigned = await _assigned(admin, group)
            committed = await admin.list_consumer_group_offsets(group)
            for partition in assigned & poison.keys():
                consumed += 1
                meta = committed.get(partition)
                if meta is None or meta.offset <= poison[partition]:
                    at = None if meta is None else meta.offset
                    stuck.append(f"{group} {partition.topic}[{partition.partition}] at {at}")
        return consumed, stuck
    finally:
        await admin.close()


async def _assigned(admin: AIOKafkaAdminClient, group: str) -> set[TopicPartition]:
    found: set[TopicPartition] = set()
    for response in await admin.describe_consumer_groups([group]):
        for description in response.groups:
            for member in description[5]:
                assignment = ConsumerProtocolMemberAssignment.decode(member[4])
                for topic, partitions in assignment.assignment:
                    found.update(TopicPartition(topic, p) for p in partitions)
    return found


def test_consumers_get_past_garbage_and_nul_events_on_every_topic(
    whole_platform: Platform,
) -> None:
    env = whole_platform.processes["analytics-worker"].env
    bootstrap, prefix = env["CRM_KAFKA_BOOTSTRAP_SERVERS"], env["CRM_KAFKA_GROUP_PREFIX"]
    poison = asyncio.run(_produce_poison(bootstrap))
    deadline = time.monotonic() + 150
    while True:
        consumed, stuck = asyncio.run(_poison_progress(bootstrap, prefix, poison))
        if (consumed and not stuck) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert consumed, f"no consumer group of {prefix}* is assigned a poisoned partition"
    assert not stuck, "consumer groups stopped at the poison:\n" + "\n".join(stuck)
    report(
        f"[poison] {consumed} poisoned partitions consumed past the poison by the platform's groups"
    )


# --- Afterwards ---------------------------------------------------------------------------------


def test_every_process_lives_and_ordinary_commands_reach_every_read_model(
    whole_platform: Platform,
) -> None:
    time.sleep(2)  # a process that a poison killed may take a moment to exit
    health = whole_platform.health()
    report(
        "[poison] health after: " + ", ".join(f"{name} {state}" for name, state in health.items())
    )
    unhealthy = {name: state for name, state in health.items() if not state.startswith("ok")}
    assert not unhealthy, unhealthy

    contacts, desk = whole_platform.api("contacts"), whole_platform.api("service-desk")
    sales, analytics = whole_platform.api("sales"), whole_platform.api("analytics")
    family = f"Afterpoison{RUN}"
    person = _created(contacts, "/customers", {"given_name": "Ordinary", "family_name": family})[
        "id"
    ]
    ticket = wait_until(
        "a ticket opened for the new person",
        lambda: _created(
            desk,
            "/tickets",
            {"customer_id": person, "subject": "Ordinary", "description": "After the poison"},
            strict=False,
        ),
        timeout=60,
    )["id"]
    lead = _created(
        sales, "/leads", {"family_name": family, "customer_id": person, "source": "web_form"}
    )["id"]

    listed = wait_until(
        "the person in the directory", lambda: directory_people(contacts, family), timeout=60
    )
    assert [entry["id"] for entry in listed] == [person]

    def in_360() -> dict[str, Any] | None:
        response = analytics.get(f"/customers/{person}/360", params={"limit": 200})
        if response.status_code != 200:
            return None
        view = response.json()
        ids = {entry["id"] for entry in view["timeline"]}
        return view if view["profile"] and {ticket, lead} <= ids else None

    wait_until("the person, the ticket and the lead in the analytics 360", in_360, timeout=90)


def _created(
    client: httpx.Client, path: str, body: dict[str, Any], *, strict: bool = True
) -> dict[str, Any] | None:
    response = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    if response.status_code in (200, 201):
        return response.json()
    assert not strict and response.status_code < 500, _answer(response)
    return None
