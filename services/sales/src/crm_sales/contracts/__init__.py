"""Translation of the sales service's domain events into published integration events."""

from typing import Any

from crm_events import Event
from crm_platform.eventstore import EventMetadata


def translate(domain_event: Any, metadata: EventMetadata | None) -> Event[Any] | None:
    """No sales event is published yet; every stored event stays private."""
    return None
