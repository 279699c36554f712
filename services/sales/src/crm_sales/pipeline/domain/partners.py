"""Partners on leads and opportunities: deal registration and channel attribution.

A partner is an organization of kind partner in contacts; sales does not follow the organization
topic, so it keeps the partner's id as given. A lead or an opportunity has at most one partner at
a time: registering another replaces it (the events keep who registered which, and when).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from ...shared.domain.values import member


class PartnerAttribution(StrEnum):
    SOURCED = "sourced"  # the partner brought the deal (deal registration)
    INFLUENCED = "influenced"  # the partner helped win a deal found otherwise


@dataclass(frozen=True)
class PartnerLink:
    """A partner as registered on a lead or an opportunity."""

    partner_id: UUID
    attribution: PartnerAttribution
    registered_by: str
    registered_at: datetime


@dataclass(frozen=True)
class PartnerDraft:
    """What registering a partner takes."""

    partner_id: UUID
    attribution: PartnerAttribution = PartnerAttribution.SOURCED


def registration(current: PartnerLink | None, draft: PartnerDraft) -> PartnerAttribution | None:
    """The attribution to register ``draft`` with; None when it is the partner already there."""
    attribution = member(PartnerAttribution, draft.attribution, "attribution")
    if current and (current.partner_id, current.attribution) == (draft.partner_id, attribution):
        return None
    return attribution
