"""The service-desk HTTP API (FastAPI routers and their request and response models)."""

from __future__ import annotations

from fastapi import APIRouter

from crm_platform.quarantine import Quarantine
from crm_platform.web.admin import admin_router

from ..application import ServiceDeskApplication
from ..application.customer_mail import PROJECTION as CUSTOMER_MAIL
from ..application.index import PROJECTION
from ..contracts import SOURCE_SERVICE
from ..messaging.outbox import customer_mail
from ..messaging.settings import ServiceDeskSettings
from .articles import articles_router
from .policies import policies_router
from .survey import survey_router
from .tickets import tickets_router


def routers(application: ServiceDeskApplication) -> list[APIRouter]:
    """Every router of the service, in the order the OpenAPI document lists them. A retry of a
    quarantined index record applies it again at once; one of a loop (the SLA scheduler, the
    inbound mail) releases it for the loop's next round; one of the customer mail sends it
    again now."""
    return [
        tickets_router(application),
        articles_router(application),
        policies_router(application),
        survey_router(application, ServiceDeskSettings().survey_links()),
        admin_router(
            SOURCE_SERVICE,
            quarantine=lambda: Quarantine.of(application, service=SOURCE_SERVICE),
            retries={
                PROJECTION: lambda entry: application.index.projection.retry(entry),
                CUSTOMER_MAIL: lambda entry: customer_mail(application).retry(entry),
            },
        ),
    ]


__all__ = ["articles_router", "policies_router", "routers", "survey_router", "tickets_router"]
