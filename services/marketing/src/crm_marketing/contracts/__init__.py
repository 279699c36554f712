"""Translation of the marketing service's domain events into published integration events."""

from typing import Any

from crm_events import Event
from crm_platform.eventstore import EventMetadata


def translate(domain_event: Any, metadata: EventMetadata | None) -> Event[Any] | None:
    """No marketing event is published yet; every stored event stays private."""
    return None
