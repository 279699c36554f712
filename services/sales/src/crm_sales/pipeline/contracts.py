"""Domain events of the pipeline area -> published integration events.

The relay decodes stored events without opening personal data: the sealed fields of lead events
arrive here as ``Sealed`` values and are copied as they are. Behaviour noted on leads, receipts,
pipeline definitions and scoring rules stay private.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from crm_events import EventData
from crm_events.personal import PersonalDataKeyDestroyed
from crm_events.sales.leads import (
    LeadCaptured,
    LeadConverted,
    LeadCustomerFlagCleared,
    LeadCustomerUnknown,
    LeadDisqualified,
    LeadErased,
    LeadPartnerRegistered,
    LeadQualified,
    LeadScored,
    LeadUpdated,
    ScoreReason,
)
from crm_events.sales.opportunities import (
    OpportunityCustomerFlagCleared,
    OpportunityCustomerUnknown,
    OpportunityFlaggedAtRisk,
    OpportunityLost,
    OpportunityOpened,
    OpportunityPartnerRegistered,
    OpportunityRiskCleared,
    OpportunityStageChanged,
    OpportunityUpdated,
    OpportunityWon,
)

from ..shared.contracts import restated, translator
from .domain.leads import Lead
from .domain.opportunities import Opportunity


def _reasons(scored: Any) -> list[ScoreReason]:
    return [
        ScoreReason(rule_id=r.rule_id, points=r.points, explanation=r.explanation)
        for r in scored.reasons
    ]


def _lead_erased(e: Any) -> list[EventData]:
    """The key's destruction first: holders of the key delete it, then every copy."""
    return [
        PersonalDataKeyDestroyed(subject_id=e.originator_id, destroyed_at=e.timestamp),
        LeadErased(lead_id=e.originator_id, customer_id=e.customer_id, erased_at=e.timestamp),
    ]


def _stage_id(closed: Any) -> str:
    return str(closed.stage.stage_id)


LEAD = "lead_id"
OPPORTUNITY = "opportunity_id"
# The stored events name the buying organization account_id, as the contracts did: they now say
# organization_id (and still account_id, deprecated, for one release).
ORGANIZATION = {"organization_id": attrgetter("account_id")}

payload = translator(
    {
        Lead: {
            "Captured": restated(LeadCaptured, record=LEAD, at="captured_at"),
            "Updated": restated(LeadUpdated, record=LEAD, at="updated_at"),
            "Scored": restated(
                LeadScored,
                record=LEAD,
                at="scored_at",
                score=lambda e: e.points,
                previous_score=lambda e: e.previous,
                reasons=_reasons,
            ),
            "Qualified": restated(LeadQualified, record=LEAD, at="qualified_at"),
            "Disqualified": restated(LeadDisqualified, record=LEAD, at="disqualified_at"),
            "Converted": restated(LeadConverted, record=LEAD, at="converted_at"),
            "Erased": _lead_erased,
            "PartnerRegistered": restated(LeadPartnerRegistered, record=LEAD, at="registered_at"),
            "CustomerFlaggedUnknown": restated(LeadCustomerUnknown, record=LEAD, at="flagged_at"),
            "CustomerFlagCleared": restated(LeadCustomerFlagCleared, record=LEAD, at="cleared_at"),
        },
        Opportunity: {
            "Opened": restated(
                OpportunityOpened, record=OPPORTUNITY, at="opened_at", **ORGANIZATION
            ),
            "Updated": restated(
                OpportunityUpdated, record=OPPORTUNITY, at="updated_at", **ORGANIZATION
            ),
            "StageChanged": restated(OpportunityStageChanged, record=OPPORTUNITY, at="changed_at"),
            "Won": restated(
                OpportunityWon, record=OPPORTUNITY, at="won_at", stage_id=_stage_id, **ORGANIZATION
            ),
            "Lost": restated(OpportunityLost, record=OPPORTUNITY, at="lost_at", stage_id=_stage_id),
            "FlaggedAtRisk": restated(
                OpportunityFlaggedAtRisk, record=OPPORTUNITY, at="flagged_at", **ORGANIZATION
            ),
            "RiskCleared": restated(
                OpportunityRiskCleared, record=OPPORTUNITY, at="cleared_at", **ORGANIZATION
            ),
            "PartnerRegistered": restated(
                OpportunityPartnerRegistered, record=OPPORTUNITY, at="registered_at"
            ),
            "CustomerFlaggedUnknown": restated(
                OpportunityCustomerUnknown, record=OPPORTUNITY, at="flagged_at", **ORGANIZATION
            ),
            "CustomerFlagCleared": restated(
                OpportunityCustomerFlagCleared, record=OPPORTUNITY, at="cleared_at"
            ),
        },
    }
)
