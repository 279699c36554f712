"""Composition root of the marketing service."""

from crm_platform.service import ServiceSpec

from .application import MarketingApplication
from .contracts import translate

SPEC = ServiceSpec(
    name="marketing",
    title="CRM marketing",
    database="marketing",
    port=8003,
    application=MarketingApplication,
    translate=translate,
)
