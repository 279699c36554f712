"""Leads and their scoring: commands, reactions to other services' events, and queries."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking

from crm_events.marketing import CampaignResponseKind
from crm_platform.privacy import KeyStore

from ...activities.domain.activities import Activity, RecordRef, RecordType
from ...shared.application.store import WRITE_ATTEMPTS, Command, Outcome, SalesStore, new_id
from ...shared.domain.errors import RecordNotFound
from ...shared.domain.values import FieldValue, derived_id
from ..domain.leads import KIND as LEAD
from ..domain.leads import Lead, LeadSource
from ..domain.opportunities import OpportunityStatus
from ..domain.partners import PartnerDraft
from ..domain.scoring import (
    SCORING_RULES_ID,
    CampaignResponse,
    Interaction,
    RuleSet,
    ScoringRule,
    ScoringRules,
)
from .index import LeadEntry, LeadFilter, OpportunityFilter, PipelineIndex

log = logging.getLogger(__name__)

SCORING = "scoring rule set"
RESCORE_BATCH = 100


@dataclass(frozen=True)
class LeadDetails:
    """What capturing a lead takes, whatever its source."""

    family_name: str
    given_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    title: str | None = None
    country: str | None = None
    industry: str | None = None
    company_size: int | None = None
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    owner: str | None = None
    customer_id: UUID | None = None
    campaign_id: UUID | None = None


class LeadCommands(SalesStore):
    pipeline_index: PipelineIndex
    personal_data_keys: KeyStore
    erase_activities_regarding: Callable[..., list[Activity]]  # ActivityCommands
    knows_customer: Callable[[UUID], bool]  # OpportunityCommands

    # --- commands -------------------------------------------------------------------------------

    def capture_lead(
        self, command: Command, details: LeadDetails, *, source: LeadSource = LeadSource.API
    ) -> Outcome[Lead]:
        lead_id = new_id(command, LEAD)

        def build() -> list[Aggregate]:
            lead = Lead.capture(lead_id, source=source, **vars(details))
            if details.customer_id is not None and not self.knows_customer(details.customer_id):
                lead.flag_customer_unknown()
            lead.rescore(self.current_rule_set())
            return [lead]

        return self.create(command, LEAD, build)

    def update_lead(
        self, command: Command, lead_id: UUID, changes: Mapping[str, Any]
    ) -> Outcome[Lead]:
        def update(lead: Lead) -> None:
            if lead.update(changes):
                lead.rescore(self.current_rule_set())

        return self._change_lead(command, lead_id, update)

    def register_lead_partner(
        self, command: Command, lead_id: UUID, *, partner: PartnerDraft
    ) -> Outcome[Lead]:
        return self._change_lead(
            command,
            lead_id,
            lambda lead: lead.register_partner(partner, registered_by=command.actor),
        )

    def qualify_lead(self, command: Command, lead_id: UUID) -> Outcome[Lead]:
        return self._change_lead(
            command, lead_id, lambda lead: lead.qualify(qualified_by=command.actor)
        )

    def disqualify_lead(
        self, command: Command, lead_id: UUID, *, reason: str, note: str | None
    ) -> Outcome[Lead]:
        return self._change_lead(
            command,
            lead_id,
            lambda lead: lead.disqualify(reason=reason, note=note, disqualified_by=command.actor),
        )

    def _change_lead(
        self, command: Command, lead_id: UUID, change: Callable[[Lead], object]
    ) -> Outcome[Lead]:
        def apply(lead: Lead) -> list[Aggregate]:
            change(lead)
            return []

        return self.execute(command, LEAD, lambda: self.get_lead(lead_id), apply)

    def erase_lead(
        self,
        lead_id: UUID,
        *,
        customer_id: UUID | None = None,
        position: Tracking | None = None,
    ) -> bool:
        """Erase the lead's personal data for good, and the activities about it; False when the
        lead was erased before."""
        return bool(self._erase([lead_id], customer_id=customer_id, position=position))

    def forget_customer(self, customer_id: UUID, *, position: Tracking | None = None) -> list[UUID]:
        """Erase every lead about the customer, and the activities about them: the customer was
        erased. Returns the leads erased now."""
        return self._erase(
            self.leads_of_customer(customer_id), customer_id=customer_id, position=position
        )

    def leads_of_customer(self, customer_id: UUID) -> list[UUID]:
        """Every lead about the customer (converted into it, or matched to it), erased or not.
        Leads the index holds in quarantine (no row, or a stale one) are loaded and counted too;
        one that cannot be loaded raises."""
        listed = self.pipeline_index.leads(LeadFilter(customer_id=customer_id))
        held = self.pipeline_index.quarantined_aggregates(Lead)
        lead_ids = [e.lead_id for e in listed] + [
            lead.id for lead in held if lead.customer_id == customer_id
        ]
        return list(dict.fromkeys(lead_ids))

    def _erase(
        self, lead_ids: Sequence[UUID], *, customer_id: UUID | None, position: Tracking | None
    ) -> list[UUID]:
        """The leads' erasure saved with that of the activities about them, those of a lead
        erased before included (a retry completes an erasure that failed half-way)."""
        # Keys first: if the process dies before the events are saved, a retry erases again,
        # whereas an erasure recorded with its key alive would never be completed.
        for lead_id in lead_ids:
            self.get_lead(lead_id)  # an unknown id is an error, not a key to destroy
            self.personal_data_keys.destroy(lead_id)
        about = [RecordRef(RecordType.LEAD, lead_id) for lead_id in lead_ids]
        for _ in range(WRITE_ATTEMPTS):
            activities = self.erase_activities_regarding(*about)  # their keys destroyed first
            leads = [self.get_lead(lead_id) for lead_id in lead_ids]
            erased = [lead for lead in leads if lead.erase(customer_id=customer_id)]
            try:
                self.save_reaction(position, *erased, *activities)
            except IntegrityError:
                continue
            return [lead.id for lead in erased]
        raise IntegrityError(f"leads {lead_ids} kept changing during their erasure")

    # --- queries --------------------------------------------------------------------------------

    def get_lead(self, lead_id: UUID, version: int | None = None) -> Lead:
        return self.load(LEAD, Lead, lead_id, version)

    def list_leads(self, keep: LeadFilter) -> list[LeadEntry]:
        return self.pipeline_index.leads(keep)

    # --- scoring rules --------------------------------------------------------------------------

    def scoring_rules(self, revision: int | None = None) -> ScoringRules:
        """The rule set in force, or the given revision of it."""
        stored = self.find(ScoringRules, SCORING_RULES_ID)
        current = stored or ScoringRules.initial()
        if revision is None or revision == current.version:
            return current
        if stored is None or not 1 <= revision < current.version:
            raise RecordNotFound(SCORING, revision)
        return self.repository.get(SCORING_RULES_ID, version=revision)

    def current_rule_set(self) -> RuleSet:
        return self.scoring_rules().rule_set

    def publish_scoring_rules(
        self, command: Command, rules: Sequence[ScoringRule]
    ) -> Outcome[ScoringRules]:
        """Publish the next revision, then rescore the open leads with it."""

        def publish(current: ScoringRules) -> list[Aggregate]:
            current.publish(rules, published_by=command.actor)
            return []

        outcome = self.execute(command, SCORING, self.scoring_rules, publish)
        # Also on a replay: rescoring is idempotent, and the first attempt may have died midway.
        self.rescore_open_leads(self.current_rule_set())
        return outcome

    def rescore_open_leads(self, rule_set: RuleSet) -> int:
        """Rescore every lead still open, in batches; the number whose score changed."""
        lead_ids = [e.lead_id for e in self.pipeline_index.leads(LeadFilter(open_only=True))]
        changed = 0
        for start in range(0, len(lead_ids), RESCORE_BATCH):
            batch = lead_ids[start : start + RESCORE_BATCH]
            leads = [lead for lead in map(self.get_lead, batch) if lead.rescore(rule_set)]
            try:
                self.save(*leads)
            except IntegrityError:  # some lead changed meanwhile: one at a time, on fresh state
                leads = [lead for lead in map(self.get_lead, batch) if lead.rescore(rule_set)]
                for lead in leads:
                    self._save_rescored(lead.id, rule_set)
            changed += len(leads)
        return changed

    def _save_rescored(self, lead_id: UUID, rule_set: RuleSet) -> None:
        for _ in range(WRITE_ATTEMPTS):
            lead = self.get_lead(lead_id)
            if not lead.rescore(rule_set):
                return
            try:
                self.save(lead)
                return
            except IntegrityError:
                continue
        log.warning("lead %s kept changing; its next change rescores it", lead_id)

    # --- reactions: behaviour from other services' events ------------------------------------------

    def note_campaign_response(
        self,
        response: CampaignResponse,
        *,
        customer_id: UUID | None,
        details: LeadDetails | None,
        position: Tracking | None = None,
    ) -> list[UUID]:
        """A campaign response: behaviour of the customer's open leads if it has any, else a
        new lead (its id derived from the response's). ``details`` None: the respondent's
        contact details are unknown or erased, so no lead can be captured. Returns the leads
        the response counts for."""
        for _ in range(WRITE_ATTEMPTS):
            known = self.pipeline_index.leads(LeadFilter(response_id=response.response_id))
            leads = [self.get_lead(e.lead_id) for e in known]
            if not leads and customer_id is not None:
                leads = self._open_leads_of(customer_id)
            if leads:
                changed = self._noted(leads, lambda lead: lead.note_response(response))
            elif self._followed_up_by_owner(response, customer_id):
                changed = []
            elif details is not None:
                changed = leads = [self._lead_from_response(response, details)]
            else:
                log.info("response %s: no contact details, no lead", response.response_id)
                changed = []
            try:
                self.save_reaction(position, *changed)
            except IntegrityError:
                continue  # a concurrent delivery or command won: decide again on fresh state
            return [lead.id for lead in leads]
        raise IntegrityError(f"response {response.response_id} kept conflicting")

    def owner_of_customer(self, customer_id: UUID) -> str | None:
        """Who in sales answers for the customer, if anyone: the owner of their latest open
        opportunity (as contact, then as account), else of their latest opportunity, else of
        their latest lead with an owner."""
        opened = OpportunityStatus.OPEN
        for where in (
            OpportunityFilter(status=opened, contact_id=customer_id),
            OpportunityFilter(status=opened, account_id=customer_id),
            OpportunityFilter(contact_id=customer_id),
            OpportunityFilter(account_id=customer_id),
        ):
            if opportunities := self.pipeline_index.opportunities(where):
                return str(opportunities[0].owner)
        leads = self.pipeline_index.leads(LeadFilter(customer_id=customer_id))
        return next((str(lead.owner) for lead in leads if lead.owner), None)

    def _followed_up_by_owner(self, response: CampaignResponse, customer_id: UUID | None) -> bool:
        """A call-back asked by a customer someone in sales owns is that owner's task (the
        activities' follow-ups give it), not a new lead beside their deal."""
        if response.kind != CampaignResponseKind.CALL_BACK_REQUEST or customer_id is None:
            return False
        owner = self.owner_of_customer(customer_id)
        if owner is not None:
            log.info("response %s: %s owns the customer, no lead", response.response_id, owner)
        return owner is not None

    def _lead_from_response(self, response: CampaignResponse, details: LeadDetails) -> Lead:
        lead = Lead.capture(
            derived_id(response.response_id, LEAD),
            source=LeadSource.CAMPAIGN,
            response_id=response.response_id,
            **vars(details),
        )
        lead.note_response(response)
        lead.rescore(self.current_rule_set())
        return lead

    def note_customer_interaction(
        self, customer_id: UUID, interaction: Interaction, *, position: Tracking | None = None
    ) -> list[UUID]:
        """An interaction with a customer counts as behaviour of the customer's open leads;
        returns their ids."""
        for _ in range(WRITE_ATTEMPTS):
            leads = self._open_leads_of(customer_id)
            changed = self._noted(leads, lambda lead: lead.note_interaction(interaction))
            try:
                self.save_reaction(position, *changed)
            except IntegrityError:
                continue
            return [lead.id for lead in leads]
        raise IntegrityError(f"the leads of customer {customer_id} kept changing")

    def _open_leads_of(self, customer_id: UUID) -> list[Lead]:
        entries = self.pipeline_index.leads(LeadFilter(customer_id=customer_id, open_only=True))
        return [self.get_lead(e.lead_id) for e in entries]

    def _noted(self, leads: Sequence[Lead], note: Callable[[Lead], bool]) -> list[Lead]:
        """The leads a behaviour was new to, rescored."""
        rule_set = self.current_rule_set()
        changed = []
        for lead in leads:
            if note(lead):
                lead.rescore(rule_set)
                changed.append(lead)
        return changed
