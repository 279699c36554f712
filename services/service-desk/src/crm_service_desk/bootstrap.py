"""The composition root: the service-desk service described once; builders come from the platform."""

from __future__ import annotations

from crm_events.service_desk import ArticlePublished, TicketOpened
from crm_platform.service import ServiceSpec

from .api import routers
from .application import ServiceDeskApplication
from .contracts import SOURCE_SERVICE, translate
from .messaging import background, subscribe

SPEC = ServiceSpec(
    name=SOURCE_SERVICE,
    title="CRM service-desk",
    description=(
        "Tickets from the API and inbound e-mail, their lifecycle and SLA clocks in business"
        " hours, satisfaction surveys, and the knowledge base."
    ),
    database="service_desk",
    port=8004,
    application=ServiceDeskApplication,
    translate=translate,
    topics=[TicketOpened.topic(), ArticlePublished.topic()],
    routers=routers,
    subscribe=subscribe,
    background=background,
)
build_application = SPEC.build_application
build_api = SPEC.build_api
build_relay = SPEC.build_relay
