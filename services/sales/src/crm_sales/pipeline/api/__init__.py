"""HTTP routes of the pipeline area: leads, web-to-lead, scoring, opportunities, pipelines,
forecast."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .leads import leads_router, scoring_router
from .opportunities import forecast_router, opportunities_router, pipelines_router
from .web_to_lead import web_to_lead_router


def routers(application: Any) -> list[APIRouter]:
    return [
        leads_router(application),
        web_to_lead_router(application),
        scoring_router(application),
        opportunities_router(application),
        pipelines_router(application),
        forecast_router(application),
    ]
