"""Domain events of the pipeline area -> published integration events.

The relay decodes stored events without opening personal data: the sealed fields of lead events
arrive here as ``Sealed`` values and are copied as they are. Behaviour noted on leads, receipts,
pipeline definitions and scoring rules stay private.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_events import EventData
from crm_events.personal import PersonalDataKeyDestroyed
from crm_events.sales.leads import (
    DisqualificationReason,
    LeadCaptured,
    LeadConverted,
    LeadDisqualified,
    LeadErased,
    LeadQualified,
    LeadScored,
    LeadSource,
    LeadUpdated,
    ScoreReason,
)
from crm_events.sales.opportunities import (
    LossReason,
    OpportunityFlaggedAtRisk,
    OpportunityLost,
    OpportunityOpened,
    OpportunityRiskCleared,
    OpportunityStageChanged,
    OpportunityUpdated,
    OpportunityWon,
)

from .domain.leads import Lead
from .domain.opportunities import Opportunity

Translation = Callable[[Any], EventData | list[EventData]]


def payload(domain_event: Any) -> EventData | list[EventData] | None:
    translation = _TRANSLATIONS.get(type(domain_event))
    return None if translation is None else translation(domain_event)


_LEAD_DETAILS = ("email", "phone", "company", "title", "country", "industry", "company_size")


def _lead_captured(e: Any) -> LeadCaptured:
    return LeadCaptured(
        lead_id=e.originator_id,
        source=LeadSource(e.source),
        name=e.name,
        **{name: getattr(e, name) for name in _LEAD_DETAILS},
        customer_id=e.customer_id,
        campaign_id=e.campaign_id,
        response_id=e.response_id,
        fields=e.fields,
        owner=e.owner,
        captured_at=e.timestamp,
    )


def _lead_updated(e: Any) -> LeadUpdated:
    return LeadUpdated(
        lead_id=e.originator_id,
        changed=e.changed,
        name=e.name,
        **{name: getattr(e, name) for name in _LEAD_DETAILS},
        fields=e.fields,
        owner=e.owner,
        updated_at=e.timestamp,
    )


def _lead_scored(e: Any) -> LeadScored:
    return LeadScored(
        lead_id=e.originator_id,
        score=e.points,
        previous_score=e.previous,
        reasons=[
            ScoreReason(rule_id=r.rule_id, points=r.points, explanation=r.explanation)
            for r in e.reasons
        ],
        rule_set_revision=e.rule_set_revision,
        scored_at=e.timestamp,
    )


def _lead_qualified(e: Any) -> LeadQualified:
    return LeadQualified(
        lead_id=e.originator_id,
        score=e.score,
        qualified_by=e.qualified_by,
        qualified_at=e.timestamp,
    )


def _lead_disqualified(e: Any) -> LeadDisqualified:
    return LeadDisqualified(
        lead_id=e.originator_id,
        reason=DisqualificationReason(e.reason),
        note=e.note,
        disqualified_by=e.disqualified_by,
        disqualified_at=e.timestamp,
    )


def _lead_converted(e: Any) -> LeadConverted:
    return LeadConverted(
        lead_id=e.originator_id,
        customer_id=e.customer_id,
        new_customer=e.new_customer,
        organization_id=e.organization_id,
        opportunity_id=e.opportunity_id,
        name=e.name,
        email=e.email,
        phone=e.phone,
        company=e.company,
        title=e.title,
        owner=e.owner,
        converted_by=e.converted_by,
        converted_at=e.timestamp,
    )


def _lead_erased(e: Any) -> list[EventData]:
    """The key's destruction first: holders of the key delete it, then every copy."""
    return [
        PersonalDataKeyDestroyed(subject_id=e.originator_id, destroyed_at=e.timestamp),
        LeadErased(lead_id=e.originator_id, customer_id=e.customer_id, erased_at=e.timestamp),
    ]


def _opportunity_opened(e: Any) -> OpportunityOpened:
    return OpportunityOpened(
        opportunity_id=e.originator_id,
        name=e.name,
        pipeline_id=e.pipeline_id,
        stage_id=e.stage_id,
        stage_name=e.stage_name,
        probability=e.probability,
        amount=e.amount,
        currency=e.currency,
        expected_close_date=e.expected_close_date,
        owner=e.owner,
        account_id=e.account_id,
        contact_id=e.contact_id,
        lead_id=e.lead_id,
        opened_at=e.timestamp,
    )


def _opportunity_updated(e: Any) -> OpportunityUpdated:
    return OpportunityUpdated(
        opportunity_id=e.originator_id,
        changed=e.changed,
        name=e.name,
        amount=e.amount,
        currency=e.currency,
        probability=e.probability,
        expected_close_date=e.expected_close_date,
        owner=e.owner,
        account_id=e.account_id,
        contact_id=e.contact_id,
        updated_at=e.timestamp,
    )


def _opportunity_stage_changed(e: Any) -> OpportunityStageChanged:
    return OpportunityStageChanged(
        opportunity_id=e.originator_id,
        pipeline_id=e.pipeline_id,
        from_stage_id=e.from_stage_id,
        to_stage_id=e.to_stage_id,
        to_stage_name=e.to_stage_name,
        probability=e.probability,
        amount=e.amount,
        currency=e.currency,
        expected_close_date=e.expected_close_date,
        changed_by=e.changed_by,
        changed_at=e.timestamp,
    )


def _opportunity_won(e: Any) -> OpportunityWon:
    return OpportunityWon(
        opportunity_id=e.originator_id,
        pipeline_id=e.pipeline_id,
        from_stage_id=e.from_stage_id,
        stage_id=e.stage.stage_id,
        amount=e.amount,
        currency=e.currency,
        owner=e.owner,
        account_id=e.account_id,
        contact_id=e.contact_id,
        reason=e.reason,
        won_by=e.won_by,
        won_at=e.timestamp,
    )


def _opportunity_lost(e: Any) -> OpportunityLost:
    return OpportunityLost(
        opportunity_id=e.originator_id,
        pipeline_id=e.pipeline_id,
        from_stage_id=e.from_stage_id,
        stage_id=e.stage.stage_id,
        amount=e.amount,
        currency=e.currency,
        owner=e.owner,
        reason=LossReason(e.reason),
        competitor=e.competitor,
        lost_by=e.lost_by,
        lost_at=e.timestamp,
    )


def _opportunity_flagged(e: Any) -> OpportunityFlaggedAtRisk:
    return OpportunityFlaggedAtRisk(
        opportunity_id=e.originator_id,
        account_id=e.account_id,
        reason=e.reason,
        source_event_id=e.source_event_id,
        flagged_at=e.timestamp,
    )


def _opportunity_risk_cleared(e: Any) -> OpportunityRiskCleared:
    return OpportunityRiskCleared(
        opportunity_id=e.originator_id,
        account_id=e.account_id,
        reason=e.reason,
        source_event_id=e.source_event_id,
        cleared_by=e.cleared_by,
        cleared_at=e.timestamp,
    )


_TRANSLATIONS: dict[type, Translation] = {
    Lead.Captured: _lead_captured,
    Lead.Updated: _lead_updated,
    Lead.Scored: _lead_scored,
    Lead.Qualified: _lead_qualified,
    Lead.Disqualified: _lead_disqualified,
    Lead.Converted: _lead_converted,
    Lead.Erased: _lead_erased,
    Opportunity.Opened: _opportunity_opened,
    Opportunity.Updated: _opportunity_updated,
    Opportunity.StageChanged: _opportunity_stage_changed,
    Opportunity.Won: _opportunity_won,
    Opportunity.Lost: _opportunity_lost,
    Opportunity.FlaggedAtRisk: _opportunity_flagged,
    Opportunity.RiskCleared: _opportunity_risk_cleared,
}
