"""The CRM's published integration events: a public, versioned contract.

Importing this package registers every event in :data:`registry`.
"""

from . import (
    analytics,
    contacts,
    erasure,
    marketing,
    personal,
    sales,
    service_desk,
    subject_access,
)
from .envelope import Envelope, Event, EventData, build_event, dataschema_uri, topic_name
from .registry import EventRegistry, UnknownEventType, event, registry

__all__ = [
    "Envelope",
    "Event",
    "EventData",
    "EventRegistry",
    "UnknownEventType",
    "analytics",
    "build_event",
    "contacts",
    "dataschema_uri",
    "erasure",
    "event",
    "marketing",
    "personal",
    "registry",
    "sales",
    "service_desk",
    "subject_access",
    "topic_name",
]
