"""Pipelines and opportunities: commands, reactions (risk flags) and queries (lists, forecast)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking

from crm_platform.known_customers import KnownCustomer, known_customer_id

from ...shared.application.store import WRITE_ATTEMPTS, Command, Outcome, SalesStore, new_id
from ..domain.forecast import ForecastLine, PeriodKind, forecast
from ..domain.opportunities import KIND as OPPORTUNITY
from ..domain.opportunities import Opportunity, OpportunityStatus
from ..domain.partners import PartnerDraft
from ..domain.pipelines import DEFAULT_PIPELINE_ID, Pipeline, Stage
from .index import OpportunityEntry, OpportunityFilter, PipelineIndex

PIPELINE = "pipeline"


@dataclass(frozen=True)
class OpportunityDraft:
    """What opening an opportunity takes; the pipeline's first stage unless ``stage_id``."""

    name: str
    amount: Decimal
    currency: str
    expected_close_date: date
    owner: str | None = None
    pipeline_id: UUID = DEFAULT_PIPELINE_ID
    stage_id: str | None = None
    probability: int | None = None
    account_id: UUID | None = None
    contact_id: UUID | None = None
    partner: PartnerDraft | None = None


class OpportunityCommands(SalesStore):
    @cached_property
    def pipeline_index(self) -> PipelineIndex:
        return self.read_model(PipelineIndex)

    # --- pipelines ------------------------------------------------------------------------------

    def define_pipeline(
        self, command: Command, *, name: str, stages: list[Stage]
    ) -> Outcome[Pipeline]:
        pipeline_id = new_id(command, PIPELINE)
        return self.create(
            command, PIPELINE, lambda: [Pipeline.define(pipeline_id, name=name, stages=stages)]
        )

    def revise_pipeline(
        self, command: Command, pipeline_id: UUID, *, name: str, stages: list[Stage]
    ) -> Outcome[Pipeline]:
        def revise(pipeline: Pipeline) -> list[Aggregate]:
            in_use = self.pipeline_index.stages_in_use(pipeline_id)
            pipeline.revise(name=name, stages=stages, stages_in_use=in_use)
            return []

        return self.execute(command, PIPELINE, lambda: self.get_pipeline(pipeline_id), revise)

    def get_pipeline(self, pipeline_id: UUID) -> Pipeline:
        """A pipeline; the default one exists from the start (saved when first used)."""
        if pipeline_id == DEFAULT_PIPELINE_ID:
            return self.find(Pipeline, pipeline_id) or Pipeline.default()
        return self.load(PIPELINE, Pipeline, pipeline_id)

    def list_pipelines(self) -> list[Pipeline]:
        """The default pipeline first, then the others by name."""
        others = self.pipeline_index.pipeline_ids() - {DEFAULT_PIPELINE_ID}
        pipelines = sorted((self.get_pipeline(i) for i in others), key=lambda p: p.name)
        return [self.get_pipeline(DEFAULT_PIPELINE_ID), *pipelines]

    def _pipeline_for(self, pipeline_id: UUID) -> tuple[Pipeline, list[Aggregate]]:
        """The pipeline an opportunity enters, and itself to save when the default is not saved
        yet: its stages are pinned from then on, whatever later releases make the default."""
        pipeline = self.get_pipeline(pipeline_id)
        return pipeline, [pipeline] if pipeline.pending_events else []

    # --- opportunities --------------------------------------------------------------------------

    def open_opportunity(self, command: Command, draft: OpportunityDraft) -> Outcome[Opportunity]:
        opportunity_id = new_id(command, OPPORTUNITY)
        return self.create(
            command,
            OPPORTUNITY,
            lambda: self._new_opportunity(opportunity_id, draft, opened_by=command.actor),
        )

    def _new_opportunity(
        self,
        opportunity_id: UUID,
        draft: OpportunityDraft,
        *,
        opened_by: str,
        lead_id: UUID | None = None,
        check_customer: bool = True,
    ) -> list[Aggregate]:
        """The new opportunity, then the default pipeline if it needs saving. ``check_customer``
        False: its contact is a customer this very command creates."""
        pipeline, pending = self._pipeline_for(draft.pipeline_id)
        opportunity = Opportunity.open(
            opportunity_id,
            name=draft.name,
            pipeline=pipeline,
            stage_id=draft.stage_id,
            probability=draft.probability,
            amount=draft.amount,
            currency=draft.currency,
            expected_close_date=draft.expected_close_date,
            owner=draft.owner or opened_by,
            opened_by=opened_by,
            account_id=draft.account_id,
            contact_id=draft.contact_id,
            lead_id=lead_id,
        )
        if draft.partner is not None:
            opportunity.register_partner(draft.partner, registered_by=opened_by)
        if check_customer:
            self._check_customer(opportunity)
        return [opportunity, *pending]

    def knows_customer(self, customer_id: UUID) -> bool:
        return self.find(KnownCustomer, known_customer_id(customer_id)) is not None

    def _check_customer(self, opportunity: Opportunity) -> None:
        """Flag a deal naming a customer sales has not heard of; clear the flag once it names a
        known one, or none."""
        contact = opportunity.contact_id
        if contact is None or self.knows_customer(contact):
            opportunity.clear_customer_flag()
        else:
            opportunity.flag_customer_unknown()

    def update_opportunity(
        self, command: Command, opportunity_id: UUID, changes: dict[str, Any]
    ) -> Outcome[Opportunity]:
        def update(opportunity: Opportunity) -> None:
            if opportunity.update(changes) and "contact_id" in changes:
                self._check_customer(opportunity)

        return self._change_opportunity(command, opportunity_id, update)

    def register_opportunity_partner(
        self, command: Command, opportunity_id: UUID, *, partner: PartnerDraft
    ) -> Outcome[Opportunity]:
        return self._change_opportunity(
            command,
            opportunity_id,
            lambda o: o.register_partner(partner, registered_by=command.actor),
        )

    def move_opportunity(
        self, command: Command, opportunity_id: UUID, *, stage_id: str, probability: int | None
    ) -> Outcome[Opportunity]:
        return self._change_opportunity(
            command,
            opportunity_id,
            lambda o: o.move_to(
                self.get_pipeline(o.pipeline_id),
                stage_id,
                changed_by=command.actor,
                probability=probability,
            ),
        )

    def win_opportunity(
        self,
        command: Command,
        opportunity_id: UUID,
        *,
        reason: str | None,
        amount: Decimal | None,
    ) -> Outcome[Opportunity]:
        return self._change_opportunity(
            command,
            opportunity_id,
            lambda o: o.win(
                self.get_pipeline(o.pipeline_id),
                won_by=command.actor,
                reason=reason,
                final_amount=amount,
            ),
        )

    def lose_opportunity(
        self, command: Command, opportunity_id: UUID, *, reason: str, competitor: str | None
    ) -> Outcome[Opportunity]:
        return self._change_opportunity(
            command,
            opportunity_id,
            lambda o: o.lose(
                self.get_pipeline(o.pipeline_id),
                lost_by=command.actor,
                reason=reason,
                competitor=competitor,
            ),
        )

    def clear_opportunity_risks(
        self, command: Command, opportunity_id: UUID, *, reason: str
    ) -> Outcome[Opportunity]:
        return self._change_opportunity(
            command,
            opportunity_id,
            lambda o: o.clear_risks(reason=reason, cleared_by=command.actor),
        )

    def _change_opportunity(
        self, command: Command, opportunity_id: UUID, change: Callable[[Opportunity], object]
    ) -> Outcome[Opportunity]:
        def apply(opportunity: Opportunity) -> list[Aggregate]:
            change(opportunity)
            return []

        return self.execute(
            command, OPPORTUNITY, lambda: self.get_opportunity(opportunity_id), apply
        )

    def get_opportunity(self, opportunity_id: UUID, version: int | None = None) -> Opportunity:
        return self.load(OPPORTUNITY, Opportunity, opportunity_id, version)

    def list_opportunities(self, keep: OpportunityFilter) -> list[OpportunityEntry]:
        return self.pipeline_index.opportunities(keep)

    # --- reactions: risk from other services' events ----------------------------------------------

    def flag_opportunities_at_risk(
        self,
        account_id: UUID,
        *,
        reason: str,
        source_event_id: UUID,
        position: Tracking | None = None,
    ) -> list[UUID]:
        """Flag every open opportunity of the account; the ids of those flagged for
        ``source_event_id`` (a redelivered event flags nothing twice)."""
        opportunities, _ = self._react_on_account(
            account_id,
            lambda o: o.flag_at_risk(reason=reason, source_event_id=source_event_id),
            position,
        )
        return [o.id for o in opportunities if str(source_event_id) in o.risks]

    def unflag_opportunities_at_risk(
        self,
        account_id: UUID,
        *,
        reason: str,
        source_event_id: UUID,
        position: Tracking | None = None,
    ) -> list[UUID]:
        """Clear the risks of every open opportunity of the account; the ids of those cleared."""
        _, cleared = self._react_on_account(
            account_id,
            lambda o: o.clear_risks(
                reason=reason, cleared_by="system", source_event_id=source_event_id
            ),
            position,
        )
        return [o.id for o in cleared]

    def _react_on_account(
        self,
        account_id: UUID,
        change: Callable[[Opportunity], bool],
        position: Tracking | None,
    ) -> tuple[list[Opportunity], list[Opportunity]]:
        """The account's open opportunities after ``change`` (True: it changed one), and the
        changed ones, saved together."""
        for _ in range(WRITE_ATTEMPTS):
            entries = self.pipeline_index.opportunities(
                OpportunityFilter(status=OpportunityStatus.OPEN, account_id=account_id)
            )
            opportunities = [self.get_opportunity(e.opportunity_id) for e in entries]
            changed = [o for o in opportunities if change(o)]
            try:
                self.save_reaction(position, *changed)
            except IntegrityError:
                continue  # an opportunity changed meanwhile: decide again on fresh state
            return opportunities, changed
        raise IntegrityError(f"the opportunities of account {account_id} kept changing")

    # --- forecast -------------------------------------------------------------------------------

    def forecast(
        self,
        *,
        period: PeriodKind,
        owner: str | None = None,
        starts_on: date | None = None,
        ends_on: date | None = None,
    ) -> list[ForecastLine]:
        deals = [entry.deal() for entry in self.pipeline_index.opportunities()]
        return forecast(deals, period=period, owner=owner, starts_on=starts_on, ends_on=ends_on)
