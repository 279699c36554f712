"""The composition root: the contacts service described once; builders come from the platform."""

from __future__ import annotations

from crm_events.contacts import CustomerRegistered
from crm_platform.service import ServiceSpec

from .api import customers_router
from .application import ContactsApplication
from .contracts import SOURCE_SERVICE, translate

SPEC = ServiceSpec(
    name=SOURCE_SERVICE,
    title="CRM contacts",
    description="Customers and every contact the business had with them.",
    database="contacts",
    port=8001,
    application=ContactsApplication,
    translate=translate,
    topics=[CustomerRegistered.topic()],
    routers=lambda application: [customers_router(application)],
)
build_application = SPEC.build_application
build_api = SPEC.build_api
build_relay = SPEC.build_relay
