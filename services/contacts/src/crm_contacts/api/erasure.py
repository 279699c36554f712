"""Where a person's erasure stands: which services confirmed their part, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from crm_events.erasure import ErasureMethod
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import ContactsApplication
from ..domain import ErasureProgress
from .common import Out, Reader


class ErasedOut(Out):
    kind: str = Field(description="The kind of record, in the service's words (ticket, lead...).")
    method: ErasureMethod


class ServiceStateOut(Out):
    service: str
    state: Literal["confirmed", "pending"]
    confirmed_at: datetime | None = Field(description="When its part was done; null if pending.")
    erased: list[ErasedOut] = Field(description="What it erased or made unreadable.")
    expected: bool = Field(
        description="Whether the erasure waits for it (a service confirming unasked is shown)."
    )


class ErasureStatusOut(Out):
    customer_id: UUID
    requested_at: datetime
    due_by: datetime = Field(
        description="Every expected service should have confirmed by then"
        " (CRM_CONTACTS_ERASURE_DEADLINE_SECONDS after the request)."
    )
    complete: bool = Field(description="Every expected service confirmed its part.")
    completed_at: datetime | None = Field(description="When the last expected part was done.")
    overdue: bool = Field(description="Not complete, and past due_by.")
    services: list[ServiceStateOut] = Field(
        description="The expected services in the order configured, then any other that confirmed."
    )

    @classmethod
    def of(cls, progress: ErasureProgress, now: datetime, deadline: timedelta) -> ErasureStatusOut:
        unexpected = [s for s in progress.confirmations if s not in progress.expected]
        return cls(
            customer_id=progress.customer_id,
            requested_at=progress.requested_at,
            due_by=progress.due_by(deadline),
            complete=progress.complete,
            completed_at=progress.completed_at,
            overdue=progress.overdue(now, deadline),
            services=[_state(progress, s) for s in (*progress.expected, *unexpected)],
        )


def _state(progress: ErasureProgress, service: str) -> ServiceStateOut:
    confirmation = progress.confirmations.get(service)
    return ServiceStateOut(
        service=service,
        state="pending" if confirmation is None else "confirmed",
        confirmed_at=None if confirmation is None else confirmation.confirmed_at,
        erased=[] if confirmation is None else [ErasedOut(**e) for e in confirmation.erased],
        expected=service in progress.expected,
    )


def erasure_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["customers"], responses=PROBLEM_RESPONSES)

    @router.get("/{customer_id}/erasure", response_model=ErasureStatusOut)
    def get_erasure(customer_id: UUID, _: Reader) -> ErasureStatusOut:
        """Where the person's erasure stands: requested when, each service's part confirmed when
        (or pending), complete or not. 404 for a person never erased. An erasure a service could
        not apply stays pending there, and is overdue past ``due_by``."""
        progress = application.erasure_progress(customer_id)
        deadline = application.erasure_settings.deadline
        return ErasureStatusOut.of(progress, datetime.now(UTC), deadline)

    return router
