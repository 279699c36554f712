"""Composition root of the sales service."""

from functools import partial

from crm_events import registry
from crm_platform.service import ServiceSpec

from .api import routers
from .application import SalesApplication
from .contracts import SOURCE_SERVICE, translate
from .messaging import subscribe
from .messaging.reminders import run_reminders

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
    background=lambda application: [partial(run_reminders, application)],
)
