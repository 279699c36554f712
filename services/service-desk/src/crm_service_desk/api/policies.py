"""HTTP administration of the SLA policy: the one in force, and adopting a new one."""

from __future__ import annotations

from fastapi import APIRouter, Response

from crm_platform.web.commands import IfMatch, answer, show
from crm_platform.web.conditional import expected_version
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import ServiceDeskApplication
from ..domain import RuleViolation
from .http import Admin, Reader
from .models import WEEKDAYS, SlaPolicyIn, SlaPolicyOut


def policies_router(app: ServiceDeskApplication) -> APIRouter:
    router = APIRouter(prefix="/sla-policy", tags=["SLA policy"], responses=PROBLEM_RESPONSES)

    @router.get("", response_model=SlaPolicyOut)
    def get_sla_policy(response: Response, _: Reader) -> SlaPolicyOut:
        """The policy new tickets get (version 0: the configured default, never changed)."""
        return show(response, app.sla_policy(), SlaPolicyOut.of)

    @router.put("", response_model=SlaPolicyOut)
    def adopt_sla_policy(
        body: SlaPolicyIn, response: Response, principal: Admin, if_match: IfMatch = None
    ) -> SlaPolicyOut:
        """Put a policy in force for the tickets opened from now on (open tickets keep the
        policy they opened under). The policy in force stated again changes nothing."""
        version = expected_version(if_match, body.expected_version)
        try:
            outcome = app.adopt_sla_policy(
                body.stated(), by=principal.subject, expected_version=version
            )
        except RuleViolation as violation:
            raise RuleViolation(_body_field(violation.field), violation.detail) from None
        return answer(response, outcome, SlaPolicyOut.of)

    return router


def _body_field(field: str) -> str:
    """The domain numbers weekdays (``calendar.hours.0``); the body names them."""
    parts = field.split(".")
    if parts[:2] == ["calendar", "hours"] and len(parts) > 2 and parts[2].isdigit():
        parts[2] = WEEKDAYS[int(parts[2])]
    return ".".join(parts)
