"""From (event type, major version) to payload model, and parsing of raw events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from .envelope import Envelope, Event, EventData

D = TypeVar("D", bound=type[EventData])


class UnknownEventType(LookupError):
    """The event's (type, version) is not in the registry (a newer contract, or not an event)."""


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[EventData]] = {}

    def register(self, model: D) -> D:
        key = (model.event_type, model.schema_version)
        if key in self._models and self._models[key] is not model:
            raise ValueError(f"{key} is already registered to {self._models[key].__name__}")
        self._models[key] = model
        return model

    def model_for(self, event_type: str, version: int) -> type[EventData]:
        try:
            return self._models[(event_type, version)]
        except KeyError:
            raise UnknownEventType(f"no contract for {event_type} v{version}") from None

    def __iter__(self) -> Iterator[type[EventData]]:
        return iter(sorted(self._models.values(), key=lambda m: (m.topic(), m.event_type)))

    def topics(self) -> list[str]:
        return sorted({model.topic() for model in self._models.values()})

    def models_on(self, topic: str) -> list[type[EventData]]:
        return [model for model in self if model.topic() == topic]

    def parse(self, raw: bytes | str | dict[str, Any]) -> Event[Any]:
        """Parse a raw event (JSON or a dict) into an ``Event`` with a typed ``data`` model."""
        envelope = (
            Envelope.model_validate(raw)
            if isinstance(raw, dict)
            else Envelope.model_validate_json(raw)
        )
        model = self.model_for(envelope.type, envelope.schemaversion)
        return Event[model].model_validate(  # type: ignore[valid-type]
            {**envelope.model_dump(), "data": envelope.data}
        )


registry = EventRegistry()
event = registry.register
