"""The published contract: golden examples, committed schemas, envelope and registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import jsonschema
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from pydantic import Field

from crm_events import EventData, EventRegistry, UnknownEventType, registry, topic_name
from crm_events.catalog import PACKAGE_ROOT
from crm_events.contacts import CustomerContacted, CustomerRegistered
from crm_events.schemas import schema_path

pytestmark = pytest.mark.unit

EXAMPLES = PACKAGE_ROOT / "examples"
MODELS = list(registry)
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def _example_file(model: type[EventData]) -> Path:
    return EXAMPLES / f"{model.event_type}.v{model.schema_version}.json"


def _golden(model: type[EventData]) -> bytes:
    return _example_file(model).read_bytes()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_event_has_a_golden_example_and_a_committed_schema(model: type[EventData]) -> None:
    assert _example_file(model).is_file(), f"add a golden example {_example_file(model)}"
    assert (PACKAGE_ROOT / schema_path(model)).is_file(), (
        "run python -m crm_events.catalog generate"
    )


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_golden_example_parses_and_round_trips(path: Path) -> None:
    example = json.loads(path.read_bytes())
    event = registry.parse(path.read_bytes())

    assert path.name == f"{event.type}.v{event.schemaversion}.json"
    assert isinstance(event.data, registry.model_for(event.type, event.schemaversion, event.source))
    assert registry.parse(event.to_json()) == event
    assert set(json.loads(event.to_json())) >= set(example), "an attribute was lost"
    assert set(event.data.model_dump()) >= set(example["data"]), "a payload field was lost"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_golden_example_validates_against_its_committed_schema(path: Path) -> None:
    example = json.loads(path.read_bytes())
    model = registry.model_for(example["type"], example["schemaversion"], example["source"])
    schema = json.loads((PACKAGE_ROOT / schema_path(model)).read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    validator.validate(example)
    with pytest.raises(jsonschema.ValidationError):  # the schema pins the event type
        validator.validate({**example, "type": "SomethingElse"})


def test_a_consumer_built_against_fewer_fields_parses_a_newer_payload() -> None:
    class CustomerRegisteredAsFirstPublished(EventData):
        event_type = "CustomerRegistered"
        schema_version = 1
        source_service = "contacts"
        aggregate_type = "customer"

        customer_id: UUID
        given_name: str = Field(min_length=1)

    old_consumer = EventRegistry()
    old_consumer.register(CustomerRegisteredAsFirstPublished)

    event = old_consumer.parse(_golden(CustomerRegistered))

    assert isinstance(event.data, CustomerRegisteredAsFirstPublished)
    assert event.data.given_name == "Ada"
    assert not hasattr(event.data, "email")


def test_kafka_headers_announce_structured_mode_and_carry_only_the_trace_context() -> None:
    event = registry.parse(_golden(CustomerContacted))

    headers = event.kafka_headers()

    assert headers == [
        ("content-type", b"application/cloudevents+json"),
        ("traceparent", event.traceparent.encode()),  # type: ignore[union-attr]
    ], "no ce_* header: the CloudEvents SDKs would take the record for binary mode"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_the_official_sdk_detects_structured_mode_and_reads_the_event(path: Path) -> None:
    event = registry.parse(path.read_bytes())
    message = KafkaMessage(
        headers=dict(event.kafka_headers()), key=event.kafka_key(), value=event.to_json()
    )

    read = from_kafka(message, JSONFormat())

    envelope = json.loads(event.to_json())
    assert read.get_data() == envelope.pop("data"), "the payload, not the whole envelope"
    attributes = read.get_attributes()
    assert attributes.pop("partitionkey") == event.aggregateid  # the SDK's view of the key
    assert attributes.pop("time") == event.time
    assert attributes == {name: value for name, value in envelope.items() if name != "time"}


def test_topics_are_named_per_service_aggregate_and_major_version() -> None:
    assert CustomerRegistered.topic() == "crm.contacts.customer.v1"
    assert CustomerContacted.topic() == CustomerRegistered.topic()
    assert topic_name("sales", "opportunity", 2) == "crm.sales.opportunity.v2"
    assert CustomerRegistered.dataschema() == "urn:crm:events:CustomerRegistered:v1"


def test_registry_rejects_a_second_model_for_the_same_type_and_version() -> None:
    contracts = EventRegistry()
    contracts.register(CustomerRegistered)
    contracts.register(CustomerRegistered)  # the same model again is harmless

    class Impostor(CustomerRegistered):
        pass

    with pytest.raises(ValueError, match="already registered"):
        contracts.register(Impostor)


@pytest.mark.parametrize(("event_type", "version"), [("NoSuchEvent", 1), ("CustomerRegistered", 3)])
def test_parsing_an_unknown_type_or_version_raises_unknown_event_type(
    event_type: str, version: int
) -> None:
    raw = {**json.loads(_golden(CustomerRegistered)), "type": event_type, "schemaversion": version}

    with pytest.raises(UnknownEventType):
        registry.parse(raw)


def test_importing_the_package_registers_every_event_module() -> None:
    """Consumers and the catalog see only what ``import crm_events`` registers."""
    script = (
        "import importlib, pkgutil, crm_events\n"
        "before = len(list(crm_events.registry))\n"
        "for m in pkgutil.walk_packages(crm_events.__path__, 'crm_events.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(before, len(list(crm_events.registry)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    before, after = result.stdout.split()
    assert before == after, "an event module is not imported by crm_events/__init__.py"
