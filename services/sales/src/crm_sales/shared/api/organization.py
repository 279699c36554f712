"""The organization a deal, quote, order or invoice is for, by the platform's name for it:
``organization_id``.

Sales called it ``account_id`` (CRM's "account") until issue 12. For one release a client may
still send ``account_id`` (in a body, or as a list filter) and answers carry it beside
``organization_id`` with the same value, both marked deprecated in the OpenAPI document. Both
sent with different values is a 422 naming ``account_id``. The stored domain events keep their
``account_id``: renaming them would rewrite history for no client's benefit.
"""

from __future__ import annotations

from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from crm_platform.web.problems import Unprocessable

ORGANIZATION = "The organization buying, if any (an organization in contacts)."
ACCOUNT = (
    "Deprecated: the former name of organization_id, the same value; use organization_id "
    "(account_id goes in a later release)."
)
DEPRECATED: dict[str, Any] = {"deprecated": True}
NAMES = {"organization_id", "account_id"}


def organization_filter(organization_id: UUID | None, account_id: UUID | None) -> UUID | None:
    """The organization a list is filtered by, given by either name."""
    if None not in (organization_id, account_id) and organization_id != account_id:
        raise _conflict("query")
    return account_id if organization_id is None else organization_id


def _conflict(where: str) -> Unprocessable:
    detail = "differs from organization_id: send organization_id alone (its deprecated alias)"
    return Unprocessable.for_field(f"{where}.account_id", detail)


class OrganizationIn(BaseModel):
    """A body naming the organization, by its name or its deprecated alias."""

    organization_id: UUID | None = Field(default=None, description=ORGANIZATION)
    account_id: UUID | None = Field(default=None, description=ACCOUNT, json_schema_extra=DEPRECATED)

    def organization_given(self) -> bool:
        """Whether the body names the organization at all (a null clears it)."""
        return bool(self.model_fields_set & NAMES)

    def organization(self) -> UUID | None:
        """The organization named; a null given under one name clears it, so two names given
        must agree, null included."""
        given = self.model_fields_set & NAMES
        if given == NAMES and self.organization_id != self.account_id:
            raise _conflict("body")
        return self.organization_id if "organization_id" in given else self.account_id


class OrganizationOut(BaseModel):
    """An answer naming the organization by both names, the same value."""

    organization_id: UUID | None = Field(default=None, description=ORGANIZATION)
    account_id: UUID | None = Field(default=None, description=ACCOUNT, json_schema_extra=DEPRECATED)

    @model_validator(mode="after")
    def _both_names(self) -> Self:
        self.organization_id = self.account_id = self.organization_id or self.account_id
        return self
