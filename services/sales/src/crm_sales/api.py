"""The sales HTTP API, one router module per area."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from crm_platform.quarantine import Quarantine
from crm_platform.web.admin import admin_router

from .activities.api import routes as activities
from .activities.application import index as activity_index
from .commerce import api as commerce
from .commerce.application import views as commerce_views
from .pipeline import api as pipeline
from .pipeline.application import index as pipeline_index
from .shared.application.read_models import SERVICE


def routers(application: Any) -> list[APIRouter]:
    return [
        *pipeline.routers(application),
        *commerce.routers(application),
        *activities.routers(application),
        admin_router(
            SERVICE,
            quarantine=lambda: Quarantine.of(application, service=SERVICE),
            # The scheduler's entries have no retry of their own: they are released.
            retries={
                pipeline_index.PROJECTION: lambda entry: application.pipeline_index.retry(entry),
                activity_index.PROJECTION: lambda entry: application.activity_index.retry(entry),
                commerce_views.PROJECTION: lambda entry: application.commerce_views.retry(entry),
            },
        ),
    ]
