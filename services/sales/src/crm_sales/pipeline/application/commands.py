"""Sales commands and queries: pipeline (leads, scoring, pipelines, opportunities, forecast).

The commands live by subject in ``pipeline_leads`` and ``pipeline_opportunities``; converting a
lead, the one command that spans both, lives here.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking

from crm_platform.known_customers import KnownCustomer

from ...shared.application.store import WRITE_ATTEMPTS, Command, Outcome
from ..domain.leads import KIND as LEAD
from ..domain.leads import Lead
from ..domain.opportunities import Opportunity
from ..domain.partners import PartnerDraft
from .index import LeadFilter, OpportunityFilter, PipelineIndex
from .leads import LeadCommands, LeadDetails
from .opportunities import OpportunityCommands, OpportunityDraft

__all__ = [
    "Command",
    "LeadDetails",
    "LeadFilter",
    "OpportunityDraft",
    "OpportunityFilter",
    "Outcome",
    "PipelineCommands",
    "PipelineIndex",
]


class PipelineCommands(LeadCommands, OpportunityCommands):
    """Mixed into SalesApplication (a ShreddingApplication: leads hold personal data)."""

    def convert_lead(
        self,
        command: Command,
        lead_id: UUID,
        opportunity: OpportunityDraft,
        *,
        customer_id: UUID | None = None,
        organization_id: UUID | None = None,
    ) -> Outcome[Lead]:
        """Convert the lead into a customer (``customer_id`` when known, else a new one) and
        open its opportunity, in one transaction. The ids of both derive from the lead's."""

        def convert(lead: Lead) -> list[Aggregate]:
            conversion = lead.convert(
                converted_by=command.actor,
                owner=opportunity.owner,
                customer_id=customer_id,
                organization_id=organization_id,
            )
            draft = replace(
                opportunity,
                owner=lead.owner,
                account_id=organization_id,
                contact_id=conversion.customer_id,
                partner=opportunity.partner or _partner_of(lead),
            )
            return self._new_opportunity(
                conversion.opportunity_id,
                draft,
                opened_by=command.actor,
                lead_id=lead.id,
                check_customer=not conversion.new_customer,
            )

        return self.execute(command, LEAD, lambda: self.get_lead(lead_id), convert)

    def note_customer_registered(
        self, customer_id: UUID, *, position: Tracking | None = None
    ) -> list[UUID]:
        """Sales has now heard of the customer: the leads and deals flagged for naming them are
        cleared (saved with the knowledge, in one transaction). Returns the records cleared."""
        for _ in range(WRITE_ATTEMPTS):
            known = self.knows_customer(customer_id)
            heard = [] if known else [KnownCustomer.heard_of(customer_id)]
            leads = self.pipeline_index.leads(
                LeadFilter(customer_id=customer_id, customer_known=False)
            )
            deals = self.pipeline_index.opportunities(
                OpportunityFilter(contact_id=customer_id, customer_known=False)
            )
            records: list[Lead | Opportunity] = [self.get_lead(e.lead_id) for e in leads]
            records += [self.get_opportunity(e.opportunity_id) for e in deals]
            cleared = [r for r in records if r.unknown_customer_id == customer_id]
            for record in cleared:
                record.clear_customer_flag()
            try:
                self.save_reaction(position, *heard, *cleared)
            except IntegrityError:
                continue  # learned or changed meanwhile: decide again on fresh state
            return [r.id for r in cleared]
        raise IntegrityError(f"the records of customer {customer_id} kept changing")

    def opportunities_of_customer(self, customer_id: UUID) -> list[UUID]:
        """Every opportunity of the customer: on their account, with them as contact, or
        converted from one of their leads. Opportunities the index holds in quarantine (no row,
        or a stale one) are loaded and counted too; one that cannot be loaded raises."""
        leads = set(self.leads_of_customer(customer_id))
        listed = self.pipeline_index.opportunities_of(customer_id, leads)
        held = self.pipeline_index.quarantined_aggregates(Opportunity)
        theirs = [
            o.id for o in held if customer_id in (o.account_id, o.contact_id) or o.lead_id in leads
        ]
        return list(dict.fromkeys(listed + theirs))


def _partner_of(lead: Lead) -> PartnerDraft | None:
    """The lead's partner, which its opportunity inherits."""
    link = lead.partner
    return None if link is None else PartnerDraft(link.partner_id, link.attribution)
