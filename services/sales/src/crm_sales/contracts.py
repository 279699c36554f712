"""Translation of the sales service's domain events into published integration events."""

from __future__ import annotations

from functools import partial
from typing import Any

from crm_events import Event, EventData
from crm_platform.erasure import confirmation_payload
from crm_platform.eventstore import EventMetadata
from crm_platform.relay import integration_event

from .activities import contracts as activities
from .commerce import contracts as commerce
from .pipeline import contracts as pipeline

SOURCE_SERVICE = "sales"
_AREAS = (
    pipeline.payload,
    commerce.payload,
    activities.payload,
    partial(confirmation_payload, service=SOURCE_SERVICE),  # crm.sales.erasure.v1
)


def translate(domain_event: Any, metadata: EventMetadata | None) -> list[Event[Any]] | None:
    """The integration events announcing ``domain_event``; None for events kept private."""
    for area in _AREAS:
        data = area(domain_event)
        if data is None:
            continue
        payloads: list[EventData] = data if isinstance(data, list) else [data]
        return [
            integration_event(p, domain_event, metadata, source_service=SOURCE_SERVICE, part=i)
            for i, p in enumerate(payloads)
        ]
    return None
