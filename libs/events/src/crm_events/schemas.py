"""JSON Schema (draft 2020-12) of each registered event, as published in ``libs/events/schemas``."""

from __future__ import annotations

import inspect
from typing import Any

from .envelope import Event, EventData

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "schemas"


def schema_path(model: type[EventData]) -> str:
    """Where the model's schema is published, relative to ``libs/events``."""
    return f"{SCHEMA_DIR}/{model.topic()}/{model.event_type}.v{model.schema_version}.schema.json"


def fixed_attributes(model: type[EventData]) -> dict[str, Any]:
    """Envelope attributes whose value the payload model determines."""
    return {
        "type": model.event_type,
        "schemaversion": model.schema_version,
        "dataschema": model.dataschema(),
    }


def describe(model: type[EventData]) -> str:
    return model.description or inspect.getdoc(model) or model.event_type


def event_schema(model: type[EventData]) -> dict[str, Any]:
    """The whole envelope with the model as ``data``; fixed attributes pinned with ``const``."""
    schema = Event[model].model_json_schema()  # type: ignore[valid-type]
    for attribute, value in fixed_attributes(model).items():
        schema["properties"][attribute]["const"] = value
    return {
        **schema,
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": model.dataschema(),
        "title": f"{model.event_type} v{model.schema_version}",
        "description": describe(model),
    }
