"""From (event type, major version) to payload model, and parsing of raw events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from .envelope import Envelope, Event, EventData

D = TypeVar("D", bound=type[EventData])


class UnknownEventType(LookupError):
    """The event's (type, version) is not in the registry (a newer contract, or not an event)."""


class EventRegistry:
    """Payload models by (event type, major version), and by topic.

    A type has one model, except a type several services publish, each on a topic of its own
    (``CustomerErasureConfirmed``): one model per topic, told apart by the event's ``source``.
    """

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], dict[str, type[EventData]]] = {}

    def register(self, model: D) -> D:
        key = (model.event_type, model.schema_version)
        on_topics = self._models.setdefault(key, {})
        known = on_topics.setdefault(model.topic(), model)
        if known is not model:
            raise ValueError(f"{key} on {model.topic()} is already registered to {known.__name__}")
        return model

    def model_for(
        self, event_type: str, version: int, source: str | None = None
    ) -> type[EventData]:
        """The model of ``event_type`` v``version``; of a type several services publish, the
        one of the producer ``source`` (``/crm/<service>``, as in the envelope)."""
        models = self.models_of(event_type, version)
        if len(models) > 1:
            models = [m for m in models if source == f"/crm/{m.source_service}"]
        if len(models) != 1:
            raise UnknownEventType(f"no contract for {event_type} v{version} from {source}")
        return models[0]

    def models_of(self, event_type: str, version: int) -> list[type[EventData]]:
        """Every model of the type: one, or one per topic it is published on."""
        return list(self._models.get((event_type, version), {}).values())

    def __iter__(self) -> Iterator[type[EventData]]:
        models = [model for on_topics in self._models.values() for model in on_topics.values()]
        return iter(sorted(models, key=lambda m: (m.topic(), m.event_type)))

    def topics(self) -> list[str]:
        return sorted({model.topic() for model in self})

    def models_on(self, topic: str) -> list[type[EventData]]:
        return [model for model in self if model.topic() == topic]

    def parse(self, raw: bytes | str | dict[str, Any]) -> Event[Any]:
        """Parse a raw event (JSON or a dict) into an ``Event`` with a typed ``data`` model."""
        envelope = (
            Envelope.model_validate(raw)
            if isinstance(raw, dict)
            else Envelope.model_validate_json(raw)
        )
        model = self.model_for(envelope.type, envelope.schemaversion, envelope.source)
        return Event[model].model_validate(  # type: ignore[valid-type]
            {**envelope.model_dump(), "data": envelope.data}
        )


registry = EventRegistry()
event = registry.register
