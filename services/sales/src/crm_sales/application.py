"""The sales service's event-sourced application (its own PostgreSQL database: sales).

One eventsourcing Application holds every sales aggregate; its commands are grouped by area
(slice) in mixins: pipeline (leads, scoring, opportunities), commerce (catalog, quotes, orders,
invoices) and activities, each in its own package. Events stored before the areas became packages
are read through the old topics registered in ``stored_topics``.
"""

from __future__ import annotations

from crm_platform.privacy import ShreddingApplication
from crm_platform.tracking import TrackingApplication

from .activities.application.commands import ActivityCommands
from .commerce.application.commands import CommerceCommands
from .pipeline.application.commands import PipelineCommands
from .stored_topics import register_moved_topics

register_moved_topics()


class SalesApplication(
    PipelineCommands, CommerceCommands, ActivityCommands, TrackingApplication, ShreddingApplication
):
    """Personal data of leads and activities is sealed per subject (ShreddingApplication);
    reactions to other services' events are recorded with their Kafka position (Tracking)."""

    name = "sales"


__all__ = ["SalesApplication"]
