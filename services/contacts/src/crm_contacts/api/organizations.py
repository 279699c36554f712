"""Organizations: customer accounts, partners (PRM) and suppliers (SRM)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from crm_platform.web.commands import CommandBody, ConditionalBody
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import ContactsApplication, OrganizationView
from ..domain import OrganizationKind, PartnerType
from ..domain.custom_fields import FieldValue
from ..domain.values import NAME_MAX_LENGTH
from .common import SERVICE, Out
from .customers import ProfileRoutes
from .sections import CUSTOM_FIELDS_DOC, LIST_DOC, TAGS_DOC, Address, CustomValue

REGISTER, UPDATE = "register-organization", "update-organization"
# The id of an organization registered by a request, as it always was: a retry finds it.
REGISTER_SCOPE = f"{SERVICE}:{REGISTER}"
KINDS_DOC = "customer (an account), partner (PRM), supplier (SRM); one or more."


class OrganizationFields(CommandBody):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    legal_name: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    tax_id: str | None = Field(
        default=None, max_length=40, description="VAT or tax number.", examples=["DE123456789"]
    )
    industry: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    website: str | None = Field(default=None, max_length=500, examples=["https://example.com"])
    addresses: list[Address] | None = Field(default=None, description=LIST_DOC)
    parent_id: UUID | None = Field(default=None, description="The parent organization.")
    kinds: list[OrganizationKind] | None = Field(default=None, description=KINDS_DOC)
    partner_type: PartnerType | None = Field(default=None, description="Partners only.")
    tags: list[str] | None = Field(default=None, description=TAGS_DOC)
    custom_fields: dict[str, CustomValue | None] | None = Field(
        default=None, description=CUSTOM_FIELDS_DOC
    )


class RegisterOrganization(OrganizationFields):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    kinds: list[OrganizationKind] = Field(
        default=[OrganizationKind.CUSTOMER], min_length=1, description=KINDS_DOC
    )


class UpdateOrganization(OrganizationFields, ConditionalBody):
    """A JSON Merge Patch (RFC 7396): fields left out keep their values, null clears one."""


class OrganizationOut(Out):
    id: UUID
    version: int
    registered_at: datetime
    name: str
    legal_name: str | None
    tax_id: str | None
    industry: str | None
    website: str | None
    addresses: list[Address]
    parent_id: UUID | None
    kinds: list[OrganizationKind]
    partner_type: PartnerType | None
    tags: list[str]
    custom_fields: dict[str, FieldValue] = Field(description="Number fields as JSON numbers.")

    @classmethod
    def of(cls, view: OrganizationView) -> OrganizationOut:
        return cls.model_validate(
            {
                **vars(view.profile),
                "custom_fields": view.custom_fields,
                "id": view.id,
                "version": view.version,
                "registered_at": view.registered_at,
            }
        )


def organizations_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/organizations", tags=["organizations"], responses=PROBLEM_RESPONSES)

    ProfileRoutes(
        record="organization",
        register_body=RegisterOrganization,
        update_body=UpdateOrganization,
        out=OrganizationOut,
        present=OrganizationOut.of,
        profile=lambda body: body.model_dump(mode="json"),  # the default kind counts, set or not
        # Looked up per request: the routes are also built without an application (OpenAPI).
        register=lambda cmd, record_id, /, *, profile: application.register_organization(
            cmd, record_id, profile=profile
        ),
        get=lambda record_id: application.get_organization(record_id),
        update=lambda record_id, cmd, /, *, patch: application.update_organization(
            record_id, cmd, patch=patch
        ),
        docs=(
            "Register an organization (becoming a partner also publishes ``PartnerRegistered``).",
            "Change the organization (JSON Merge Patch); ``OrganizationProfileUpdated``.",
        ),
    ).declare(router)
    return router
