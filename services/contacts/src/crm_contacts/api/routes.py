"""HTTP commands and queries on customers.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response

from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.idempotency import idempotency_key, idempotent_id, request_fingerprint

from ..application import ContactsApplication
from .errors import PROBLEM_RESPONSES, domain_problems, expected_version
from .models import CustomerOut, InteractionOut, InteractionsOut, RecordContact, RegisterCustomer

REGISTER_SCOPE = "contacts:register-customer"
CONTACT_SCOPE = "contacts:record-contact"
REPLAYED_HEADER = "Idempotent-Replayed"

Writer = Annotated[Principal, Depends(require_scopes("contacts:write"))]
Reader = Annotated[Principal, Depends(require_scopes("contacts:read"))]
IdempotencyKey = Annotated[str, idempotency_key]
IfMatch = Annotated[str | None, Header(description='W/"<version>" from an ETag')]


def customers_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["customers"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=CustomerOut)
    def register_customer(
        body: RegisterCustomer,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> CustomerOut:
        """Register a customer; retrying with the same Idempotency-Key and body is safe."""
        customer_id = idempotent_id(key, scope=REGISTER_SCOPE, principal=principal.subject)
        with domain_problems():
            outcome = application.register_customer(
                customer_id,
                given_name=body.given_name,
                family_name=body.family_name,
                email=body.email,
                phone=body.phone,
                request_fingerprint=request_fingerprint(body),
            )
        location = request.url_for("get_customer", customer_id=str(customer_id))
        _created(response, str(location), outcome.replayed)
        response.headers["ETag"] = etag(outcome.value.version)
        return CustomerOut.model_validate(outcome.value)

    @router.get("/{customer_id}", response_model=CustomerOut)
    def get_customer(customer_id: UUID, response: Response, _: Reader) -> CustomerOut:
        with domain_problems():
            customer = application.get_customer(customer_id)
        response.headers["ETag"] = etag(customer.version)
        return CustomerOut.model_validate(customer)

    @router.post("/{customer_id}/interactions", status_code=201, response_model=InteractionOut)
    def record_contact(
        customer_id: UUID,
        body: RecordContact,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> InteractionOut:
        """Record an interaction; If-Match (or expected_version) guards against lost updates."""
        # The customer id is in the scope: interaction ids stay unique even if a key is reused.
        scope = f"{CONTACT_SCOPE}:{customer_id}"
        interaction_id = idempotent_id(key, scope=scope, principal=principal.subject)
        with domain_problems():
            outcome = application.record_contact(
                customer_id,
                expected_version=expected_version(if_match, body.expected_version),
                interaction_id=interaction_id,
                channel=body.channel,
                direction=body.direction,
                summary=body.summary,
                actor=body.actor or principal.subject,
                occurred_at=body.occurred_at,
                request_fingerprint=request_fingerprint(body),
            )
        location = request.url_for(
            "get_interaction", customer_id=str(customer_id), interaction_id=str(interaction_id)
        )
        _created(response, str(location), outcome.replayed)
        return InteractionOut.model_validate(outcome.value)

    @router.get("/{customer_id}/interactions", response_model=InteractionsOut)
    def list_interactions(customer_id: UUID, response: Response, _: Reader) -> InteractionsOut:
        with domain_problems():
            customer = application.get_customer(customer_id)
        response.headers["ETag"] = etag(customer.version)
        items = [InteractionOut.model_validate(i) for i in customer.interactions]
        return InteractionsOut(customer_id=customer.id, version=customer.version, items=items)

    @router.get("/{customer_id}/interactions/{interaction_id}", response_model=InteractionOut)
    def get_interaction(customer_id: UUID, interaction_id: UUID, _: Reader) -> InteractionOut:
        with domain_problems():
            return InteractionOut.model_validate(
                application.get_interaction(customer_id, interaction_id)
            )

    return router


def etag(version: int) -> str:
    """Weak: the representation varies with content negotiation, the version does not."""
    return f'W/"{version}"'


def _created(response: Response, location: str, replayed: bool) -> None:
    response.headers["Location"] = location
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
