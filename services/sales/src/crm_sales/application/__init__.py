"""The sales service's event-sourced application (its own PostgreSQL database: sales).

One eventsourcing Application holds every sales aggregate; its commands are grouped by area in
mixins (pipeline: leads and opportunities; commerce: catalog, quotes, orders, invoices; activities),
so each area keeps its own module.
"""

from __future__ import annotations

from crm_platform.privacy import ShreddingApplication
from crm_platform.tracking import TrackingApplication

from .activities import ActivityCommands
from .commerce import CommerceCommands
from .pipeline import PipelineCommands


class SalesApplication(
    PipelineCommands, CommerceCommands, ActivityCommands, TrackingApplication, ShreddingApplication
):
    """Personal data of leads and activities is sealed per subject (ShreddingApplication);
    reactions to other services' events are recorded with their Kafka position (Tracking)."""

    name = "sales"


__all__ = ["SalesApplication"]
