"""The organization a sales record is for, by one name: ``organization_id``.

Sales events called it ``account_id`` (CRM's "account") until issue 12; the platform's name is
organization. Events published since carry both with the same value, ``account_id`` deprecated
for one release; events published before carry ``account_id`` only, and are read with
``organization_id`` filled from it, so a subscriber reads ``organization_id`` alone.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

ORGANIZATION_ID = "The organization buying, if any (an organization in contacts)."

AccountId = Annotated[
    UUID | None,
    Field(
        description="Deprecated: the former name of organization_id, the same value; read "
        "organization_id (events published before it carry this field only).",
        json_schema_extra={"deprecated": True},
    ),
]


class NamesOrganization(BaseModel):
    """Mixed into each sales contract with ``account_id``: ``organization_id`` beside it."""

    organization_id: UUID | None = Field(default=None, description=ORGANIZATION_ID)

    @model_validator(mode="before")
    @classmethod
    def _one_value_by_both_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        organization, account = data.get("organization_id"), data.get("account_id")
        if organization is None and account is not None:  # published before the new name
            return {**data, "organization_id": account}
        if account is None and organization is not None:  # for subscribers of the old name
            return {**data, "account_id": organization}
        return data
