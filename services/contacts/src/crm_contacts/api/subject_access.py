"""A person's subject-access request: every service answers with its part, assembled here.

``POST /customers/{id}/subject-access`` records the request (202, with its id and its Location);
``GET /customers/{id}/subject-access/{request_id}`` shows each service answered or awaited and,
once all answered or past ``due_by``, the export: contacts' part (as ``GET /customers/{id}/export``)
and each service's document, the services that did not answer named in ``missing``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from crm_platform.web.commands import REPLAYED_HEADER, command
from crm_platform.web.idempotency import IdempotencyKey

from ..application import ContactsApplication
from ..application.subject_access import SubjectAccess, SubjectAccessStatus
from ..domain.subject_access import AccessRequest, State
from .common import PERSON_PROBLEM_RESPONSES, SERVICE, Reader, Writer, created
from .customers import ExportOut


class SubjectAccessRequestOut(BaseModel):
    request_id: UUID
    customer_id: UUID
    requested_at: datetime
    expected: list[str] = Field(description="The services whose answers the export awaits.")


class ServiceAnswerOut(BaseModel):
    service: str
    state: Literal["answered", "waiting"]
    answered_at: datetime | None = Field(description="When its (last) part arrived.")
    held: bool | None = Field(description="Whether it holds anything about the person.")
    expected: bool = Field(description="Whether the export waits for it.")


class SubjectAccessExportOut(BaseModel):
    """Everything the business holds about the person, by service (GDPR art. 15)."""

    contacts: ExportOut = Field(description="Contacts' part: the person's records and history.")
    services: dict[str, dict[str, list[dict[str, Any]]]] = Field(
        description="Each service that answered: its records about the person by kind (lead,"
        " opportunity, ticket, audience_profile, customer_360...); empty when it holds nothing."
    )


class SubjectAccessOut(BaseModel):
    request_id: UUID
    customer_id: UUID
    requested_at: datetime
    due_by: datetime = Field(
        description="The export is assembled then at the latest, without the services missing"
        " (CRM_CONTACTS_SUBJECT_ACCESS_DEADLINE_SECONDS after the request)."
    )
    state: State = Field(
        description="complete: every expected service answered; timed_out: past due_by without"
        " them all; waiting: neither yet."
    )
    services: list[ServiceAnswerOut] = Field(
        description="The expected services in the order configured, then any other that answered."
    )
    answered: list[str] = Field(description="The services whose part is in the export.")
    missing: list[str] = Field(description="The expected services that have not answered.")
    export: SubjectAccessExportOut | None = Field(description="Null while waiting.")

    @classmethod
    def of(cls, status: SubjectAccessStatus) -> SubjectAccessOut:
        request = status.request
        others = [s for s in request.answers if s not in request.expected]
        export = None
        if status.contacts is not None and status.parts is not None:
            export = SubjectAccessExportOut(
                contacts=ExportOut.of(status.contacts), services=status.parts
            )
        return cls(
            request_id=request.request_id,
            customer_id=status.customer_id,
            requested_at=request.requested_at,
            due_by=status.due_by,
            state=status.state,
            services=[_answer(request, s) for s in (*request.expected, *others)],
            answered=[SERVICE, *(s for s in (*request.expected, *others) if request.answered(s))],
            missing=request.waiting_for,
            export=export,
        )


def _answer(request: AccessRequest, service: str) -> ServiceAnswerOut:
    answer = request.answers.get(service)
    return ServiceAnswerOut(
        service=service,
        state="answered" if request.answered(service) else "waiting",
        answered_at=None if answer is None else answer.answered_at,
        held=None if answer is None else answer.held,
        expected=service in request.expected,
    )


def subject_access_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["customers"], responses=PERSON_PROBLEM_RESPONSES)
    subject_access = SubjectAccess(application)

    @router.post(
        "/{customer_id}/subject-access", status_code=202, response_model=SubjectAccessRequestOut
    )
    def request_subject_access(
        customer_id: UUID,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> SubjectAccessRequestOut:
        """Ask every service for what it holds about the person (GDPR art. 15): each answers
        with its part, assembled at the Location answered. An erased person's services answer
        that they hold nothing; a merged one answers 307 to the survivor."""
        cmd = command(
            key, principal, None, service=SERVICE, operation="subject-access", target=customer_id
        )
        outcome = subject_access.request(customer_id, cmd)
        if outcome.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        asked = outcome.value
        created(
            request,
            response,
            "get_subject_access",
            customer_id=customer_id,
            request_id=asked.request_id,
        )
        return SubjectAccessRequestOut(
            request_id=asked.request_id,
            customer_id=customer_id,
            requested_at=asked.requested_at,
            expected=list(asked.expected),
        )

    @router.get("/{customer_id}/subject-access/{request_id}", response_model=SubjectAccessOut)
    def get_subject_access(customer_id: UUID, request_id: UUID, _: Reader) -> SubjectAccessOut:
        """Which services answered and which are awaited; the export once every expected
        service answered, or after ``due_by`` with those missing named. 404 for a request
        not of this person."""
        return SubjectAccessOut.of(subject_access.status(customer_id, request_id))

    return router
