"""Composition root of the sales service."""

from __future__ import annotations

from typing import Any

from crm_events import registry
from crm_platform.loops import Loop
from crm_platform.service import ServiceSpec

from .activities.application.index import ActivityIndex
from .activities.reminders import reminders
from .api import routers
from .application import SalesApplication
from .commerce.application.views import CommerceViews
from .contracts import SOURCE_SERVICE, translate
from .messaging import subscribe
from .pipeline.application.index import PipelineIndex


def background(application: Any) -> list[Loop]:
    """The read models (lists, lookups, the forecast, receivables) follow the store in the
    worker, and the reminder scheduler fires what falls due."""
    read_models = (PipelineIndex, ActivityIndex, CommerceViews)
    return [*(model(application).loop() for model in read_models), reminders(application)]


SPEC = ServiceSpec(
    name=SOURCE_SERVICE,
    title="CRM sales",
    description="Leads, opportunities, quotes, orders, invoices, payments and activities.",
    database="sales",
    port=8002,
    application=SalesApplication,
    translate=translate,
    topics=[t for t in registry.topics() if t.startswith(f"crm.{SOURCE_SERVICE}.")],
    routers=routers,
    subscribe=subscribe,
    background=background,
)
