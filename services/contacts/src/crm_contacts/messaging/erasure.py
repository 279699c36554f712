"""Each service's confirmation of its part of an erasure, recorded on the erasure's progress.

Read from every ``crm.<service>.erasure.v1`` (contacts' own included) and recorded exactly once,
with the position of its message (``crm_platform.tracking``).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking

from crm_events import Event
from crm_events.erasure import CustomerErasureConfirmed

from ..application import ContactsApplication


def record_confirmation(
    application: ContactsApplication, event: Event[Any], position: Tracking
) -> None:
    """Events of types this build does not know (a newer contract) are skipped."""
    if isinstance(event.data, CustomerErasureConfirmed):
        application.record_erasure_confirmation(position, event.data)
