"""Composition root of the service-desk service."""

from crm_platform.service import ServiceSpec

from .application import ServiceDeskApplication
from .contracts import translate

SPEC = ServiceSpec(
    name="service-desk",
    title="CRM service-desk",
    database="service_desk",
    port=8004,
    application=ServiceDeskApplication,
    translate=translate,
)
