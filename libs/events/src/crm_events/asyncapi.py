"""AsyncAPI 3.0 document of the CRM as a publisher: one channel per topic, one message per event.

The application described is the CRM, so every operation is a ``send``; downstream consumers read
the same document to subscribe. Payloads reference the published JSON Schemas by relative path.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from .envelope import (
    STRUCTURED_CONTENT_TYPE,
    TRACE_CONTEXT_ATTRIBUTES,
    Event,
    EventData,
)
from .registry import EventRegistry
from .schemas import describe, schema_path

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SERVER = "kafka"


def asyncapi_document(registry: EventRegistry) -> dict[str, Any]:
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "CRM integration events",
            "version": version("crm-events"),
            "description": (
                "Events the CRM's services publish to Kafka. Values are CloudEvents 1.0 in"
                " structured mode: the whole event as JSON, announced by the content-type header"
                " and not repeated as ce_* headers, so that CloudEvents SDKs detect the mode;"
                " the record key is the aggregate id, so each aggregate's events are ordered."
                " Deduplicate on the event id. Within a topic (one major version) changes are"
                " additive only."
            ),
        },
        "defaultContentType": STRUCTURED_CONTENT_TYPE,
        "servers": {
            SERVER: {
                "host": "{bootstrapServers}",
                "protocol": "kafka",
                "description": "The CRM's Kafka cluster.",
                "variables": {
                    "bootstrapServers": {
                        "default": "localhost:9092",
                        "description": "Bootstrap servers of the deployment.",
                    }
                },
            }
        },
        "channels": {topic: _channel(registry, topic) for topic in registry.topics()},
        "operations": {f"send.{topic}": _operation(registry, topic) for topic in registry.topics()},
        "components": {
            "messages": {message_id(registry, model): _message(model) for model in registry}
        },
    }


def message_id(registry: EventRegistry, model: type[EventData]) -> str:
    """``<type>.v<major>``; for a type several services publish, one message per service."""
    name = f"{model.event_type}.v{model.schema_version}"
    if len(registry.models_of(model.event_type, model.schema_version)) > 1:
        return f"{name}.{model.source_service}"
    return name


def _channel(registry: EventRegistry, topic: str) -> dict[str, Any]:
    first = registry.models_on(topic)[0]
    return {
        "address": topic,
        "title": topic,
        "description": (
            f"Events of the {first.source_service} service's {first.aggregate_type} aggregates,"
            f" major version {first.schema_version}, keyed by aggregate id."
        ),
        "servers": [{"$ref": f"#/servers/{SERVER}"}],
        "messages": {
            message_id(registry, model): {
                "$ref": f"#/components/messages/{message_id(registry, model)}"
            }
            for model in registry.models_on(topic)
        },
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operation(registry: EventRegistry, topic: str) -> dict[str, Any]:
    service = registry.models_on(topic)[0].source_service
    return {
        "action": "send",
        "title": f"The {service} service publishes to {topic}",
        "channel": {"$ref": f"#/channels/{topic}"},
        "messages": [
            {"$ref": f"#/channels/{topic}/messages/{message_id(registry, model)}"}
            for model in registry.models_on(topic)
        ],
    }


def _message(model: type[EventData]) -> dict[str, Any]:
    return {
        "name": model.event_type,
        "title": f"{model.event_type} v{model.schema_version}",
        "summary": describe(model),
        "contentType": STRUCTURED_CONTENT_TYPE,
        "headers": _headers(),
        "payload": {"$ref": schema_path(model)},
        "correlationId": {
            "description": "Shared by every event caused by one request.",
            "location": "$message.payload#/correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The aggregate id (aggregateid)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _headers() -> dict[str, Any]:
    """The Kafka headers: the structured-mode content type and the optional W3C trace context.
    The attributes themselves are in the value only (``ce_*`` headers would mean binary mode)."""
    properties: dict[str, Any] = {
        "content-type": {"type": "string", "const": STRUCTURED_CONTENT_TYPE}
    }
    for attribute in TRACE_CONTEXT_ATTRIBUTES:
        description = Event.model_fields[attribute].description
        properties[attribute] = {
            "type": "string",
            "description": f"{description} Also in the value.",
        }
    return {"type": "object", "properties": properties, "required": ["content-type"]}
