"""HTTP queries on audience profiles (bearer tokens)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from crm_platform.web.commands import show
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import MarketingApplication
from .http import Reader
from .models import ProfileOut


def profiles_router(application: MarketingApplication) -> APIRouter:
    router = APIRouter(prefix="/audience", tags=["audience"], responses=PROBLEM_RESPONSES)

    @router.get("/{customer_id}", response_model=ProfileOut)
    def get_profile(customer_id: UUID, response: Response, _: Reader) -> ProfileOut:
        """What marketing learned about a customer from the other services' events."""
        return show(response, application.profile(customer_id), ProfileOut.of)

    return router
