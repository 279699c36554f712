"""Request and response bodies of a partner on a lead or an opportunity."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ...shared.api.http import CommandBody, ConditionalBody
from ..domain.partners import PartnerAttribution, PartnerDraft, PartnerLink


class PartnerIn(CommandBody):
    partner_id: UUID = Field(description="An organization of kind partner in contacts")
    attribution: PartnerAttribution = Field(
        default=PartnerAttribution.SOURCED,
        description="sourced: the partner brought the deal (deal registration); influenced: "
        "the partner helped win a deal found otherwise",
    )

    def draft(self) -> PartnerDraft:
        return PartnerDraft(self.partner_id, self.attribution)


class RegisterPartner(PartnerIn, ConditionalBody):
    """The partner to register; it replaces the one registered before, if any."""


class PartnerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    partner_id: UUID
    attribution: PartnerAttribution
    registered_by: str
    registered_at: datetime

    @classmethod
    def of(cls, link: PartnerLink | None) -> PartnerOut | None:
        return None if link is None else cls.model_validate(link)
