"""Composition root of the sales service."""

from crm_platform.service import ServiceSpec

from .application import SalesApplication
from .contracts import translate

SPEC = ServiceSpec(
    name="sales",
    title="CRM sales",
    database="sales",
    port=8002,
    application=SalesApplication,
    translate=translate,
)
