"""HTTP routes of the pipeline area: leads, web-to-lead, scoring, opportunities, pipelines,
forecast."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .pipeline_leads import leads_router, scoring_router
from .pipeline_opportunities import forecast_router, opportunities_router, pipelines_router
from .pipeline_web_to_lead import web_to_lead_router


def routers(application: Any) -> list[APIRouter]:
    return [
        leads_router(application),
        web_to_lead_router(application),
        scoring_router(application),
        opportunities_router(application),
        pipelines_router(application),
        forecast_router(application),
    ]
