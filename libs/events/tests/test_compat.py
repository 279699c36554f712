"""The backward-compatibility rules for revisions of a published schema."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from crm_events import registry
from crm_events.compat import breaking_changes
from crm_events.schemas import event_schema

pytestmark = pytest.mark.unit

Schema = dict[str, Any]

# Shaped like pydantic's output: the payload and an enum in $defs, optional fields as anyOf-null.
PUBLISHED: Schema = {
    "$defs": {
        "Channel": {"enum": ["email", "phone"], "type": "string"},
        "Payload": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "email": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                "channel": {"$ref": "#/$defs/Channel"},
                "seats": {"type": "integer", "minimum": 1},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["name", "channel"],
        },
    },
    "type": "object",
    "properties": {
        "type": {"const": "Thing", "type": "string"},
        "data": {"$ref": "#/$defs/Payload"},
    },
    "required": ["type", "data"],
}


def _revised(change: Callable[[Schema], object]) -> Schema:
    schema = copy.deepcopy(PUBLISHED)
    change(schema)
    return schema


def _payload(schema: Schema) -> Schema:
    return schema["$defs"]["Payload"]


def _field(name: str) -> Callable[[Schema], Schema]:
    return lambda schema: _payload(schema)["properties"][name]


BREAKING = {
    "removed property": (
        lambda s: _payload(s)["properties"].pop("email"),
        "$.data.email: property removed",
    ),
    "optional property made required": (
        lambda s: _payload(s)["required"].append("email"),
        "$.data.email: newly required",
    ),
    "new required property": (
        lambda s: (
            _payload(s)["properties"].update(vat={"type": "string"}),
            _payload(s)["required"].append("vat"),
        ),
        "$.data.vat: newly required",
    ),
    "type changed": (
        lambda s: _field("seats")(s).update(type="string"),
        "$.data.seats: type changed from integer to string",
    ),
    "null no longer allowed": (
        lambda s: _payload(s)["properties"].update(email={"type": "string"}),
        "$.data.email: type changed from null|string to string",
    ),
    "enum value removed": (
        lambda s: s["$defs"]["Channel"].update(enum=["email"]),
        "$.data.channel: enum values removed: ['phone']",
    ),
    "const changed": (
        lambda s: s["properties"]["type"].update(const="Other"),
        "$.type: enum values removed: ['Thing']",
    ),
    "values newly restricted": (
        lambda s: _field("name")(s).update(enum=["Ada"]),
        "$.data.name: values newly restricted to ['Ada']",
    ),
    "maxLength lowered": (
        lambda s: _field("name")(s).update(maxLength=100),
        "$.data.name: maxLength lowered from 200 to 100",
    ),
    "minLength raised": (
        lambda s: _field("name")(s).update(minLength=2),
        "$.data.name: minLength raised from 1 to 2",
    ),
    "maximum added": (
        lambda s: _field("seats")(s).update(maximum=1000),
        "$.data.seats: maximum lowered from none to 1000",
    ),
    "pattern added": (
        lambda s: _field("name")(s).update(pattern="^[A-Z]"),
        "$.data.name: pattern changed from None to '^[A-Z]'",
    ),
    "extra properties forbidden": (
        lambda s: _payload(s).update(additionalProperties=False),
        "$.data: additionalProperties changed from allowed to forbidden",
    ),
    "array items narrowed": (
        lambda s: _field("tags")(s)["items"].update(maxLength=20),
        "$.data.tags[]: maxLength lowered from none to 20",
    ),
    "referenced definition changed": (
        lambda s: s["$defs"]["Channel"].update(type="integer", enum=[1, 2]),
        "$.data.channel: type changed from string to integer",
    ),
}

COMPATIBLE = {
    "unchanged": lambda s: None,
    "new optional property": lambda s: _payload(s)["properties"].update(note={"type": "string"}),
    "new enum value": lambda s: s["$defs"]["Channel"]["enum"].append("chat"),
    "maxLength raised": lambda s: _field("name")(s).update(maxLength=400),
    "minimum dropped": lambda s: _field("seats")(s).pop("minimum"),
    "required made optional": lambda s: _payload(s)["required"].remove("name"),
    "null newly allowed": lambda s: _payload(s)["properties"].update(
        name={"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "null"}]}
    ),
    "integer widened to number": lambda s: _field("seats")(s).update(type="number"),
    "descriptions and titles": lambda s: _field("name")(s).update(title="Name", description="x"),
}


@pytest.mark.parametrize(("change", "expected"), BREAKING.values(), ids=BREAKING.keys())
def test_breaking_change_is_reported(change: Callable[[Schema], object], expected: str) -> None:
    assert breaking_changes(PUBLISHED, _revised(change)) == [expected]


@pytest.mark.parametrize("change", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_additive_change_is_allowed(change: Callable[[Schema], object]) -> None:
    assert breaking_changes(PUBLISHED, _revised(change)) == []


def test_recursive_definitions_terminate() -> None:
    node = {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}
    schema = {"$defs": {"Node": node}, "$ref": "#/$defs/Node"}
    narrowed = copy.deepcopy(schema)
    narrowed["$defs"]["Node"]["properties"]["name"] = {"type": "string"}
    narrowed["$defs"]["Node"]["required"] = ["name"]

    assert breaking_changes(schema, schema) == []
    assert breaking_changes(schema, narrowed) == ["$.name: newly required"]


@pytest.mark.parametrize("model", list(registry), ids=lambda m: m.__name__)
def test_every_registered_schema_is_compatible_with_itself(model: type) -> None:
    assert breaking_changes(event_schema(model), event_schema(model)) == []
