"""What sales does with other services' events (run by crm-sales-worker)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from . import subject_access
from .activities import messaging as activities
from .commerce import messaging as commerce
from .pipeline import messaging as pipeline


def subscribe(broker: KafkaBroker, application: Any) -> None:
    pipeline.subscribe(broker, application)
    commerce.subscribe(broker, application)
    activities.subscribe(broker, application)
    subject_access.subscribe(broker, application)
