"""The index of leads, opportunities and pipelines, for lists, lookups and the forecast.

The event store answers "this aggregate by id"; lists, "the open opportunities of an account" or
"the leads of a customer" need more. This read model keeps a row per lead, opportunity and
pipeline in the sales database (``read_models``: a local projection of the notification log, kept
current by the worker, caught up by every query), so an API replica and the worker agree and a
client reads its own writes. A lead's row holds the names it is listed by; once the lead is erased
its row holds none, since the erased lead has none (its ``Erased`` event blanks them).

A row's ``position`` is the notification its aggregate was first applied from: the order of lists
(newest first) and what a page's cursor names.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_platform.text import fold

from ...shared.application.read_models import AggregateRows, Where, upsert
from ...shared.copied import copied
from ...stored_topics import stored_topics_of
from ..domain.forecast import Deal, DealStatus
from ..domain.leads import Lead, LeadSource, LeadStatus
from ..domain.opportunities import Opportunity, OpportunityStatus
from ..domain.pipelines import Pipeline

# v2: rows gained the partner and the leads' search text; a new generation is built from the
# log, as the rows of the first cannot be completed in place.
PROJECTION = "sales-pipeline-v2"
LEADS = "sales_leads_v2"
OPPORTUNITIES = "sales_opportunities_v2"
PIPELINES = "sales_pipelines_v2"


@dataclass(frozen=True)
class LeadEntry:
    lead_id: UUID
    position: int  # where the lead first appeared in the log: the order of lists
    version: int
    status: LeadStatus
    source: LeadSource
    given_name: str | None
    family_name: str | None
    company: str | None
    owner: str | None
    score: int
    customer_id: UUID | None
    response_ids: frozenset[UUID]
    erased: bool
    captured_at: datetime
    partner_id: UUID | None
    search: str  # names, company and e-mail, folded (``crm_platform.text.fold``)
    customer_known: bool  # False: customer_id names a customer no service has heard of

    @classmethod
    def of(cls, lead: Lead, position: int) -> LeadEntry:
        searched = (lead.given_name, lead.family_name, lead.company, lead.email)
        return cls(
            **copied(
                cls,
                lead,
                lead_id=lead.id,
                position=position,
                score=lead.score_points,
                response_ids=frozenset(lead.responses),
                erased=lead.erased_at is not None,
                captured_at=lead.created_on,
                partner_id=lead.partner and lead.partner.partner_id,
                search=" ".join(fold(text) for text in searched if text),
            )
        )

    @property
    def is_open(self) -> bool:
        """Still changing: scored by behaviour and rules."""
        return self.status is not LeadStatus.CONVERTED and not self.erased


@dataclass(frozen=True)
class OpportunityEntry:
    opportunity_id: UUID
    position: int
    version: int
    name: str
    pipeline_id: UUID
    stage_id: str
    status: OpportunityStatus
    amount: Decimal
    currency: str
    probability: int
    expected_close_date: date
    closed_on: date | None
    owner: str
    account_id: UUID | None
    contact_id: UUID | None
    lead_id: UUID | None
    at_risk: bool
    opened_at: datetime
    partner_id: UUID | None
    customer_known: bool  # False: its contact is a customer no service has heard of

    @classmethod
    def of(cls, opportunity: Opportunity, position: int) -> OpportunityEntry:
        partner = opportunity.partner
        return cls(
            **copied(
                cls,
                opportunity,
                opportunity_id=opportunity.id,
                position=position,
                opened_at=opportunity.created_on,
                partner_id=partner and partner.partner_id,
            )
        )

    def deal(self) -> Deal:
        return Deal(
            owner=self.owner,
            currency=self.currency,
            amount=self.amount,
            probability=self.probability,
            status=DealStatus(self.status.value),
            expected_close_date=self.expected_close_date,
            closed_on=self.closed_on,
        )


@dataclass(frozen=True)
class PipelineEntry:
    """Pipelines are few: listed by id, and loaded when asked."""

    pipeline_id: UUID
    version: int


Entry = LeadEntry | OpportunityEntry | PipelineEntry


@dataclass(frozen=True)
class LeadFilter:
    status: LeadStatus | None = None
    owner: str | None = None
    source: LeadSource | None = None
    customer_id: UUID | None = None
    min_score: int | None = None
    response_id: UUID | None = None  # the leads this campaign response counts for
    open_only: bool = False  # only leads still open (``LeadEntry.is_open``)
    partner_id: UUID | None = None
    text: str | None = None  # in the names, company or e-mail, case and accents aside
    customer_known: bool | None = None

    def where(self) -> Where:
        where = Where()
        where.add("status = %s", self.status and self.status.value)
        where.add("owner = %s", self.owner)
        where.add("source = %s", self.source and self.source.value)
        where.add("customer_id = %s", self.customer_id)
        where.add("score >= %s", self.min_score)
        where.add("response_ids @> ARRAY[%s]::uuid[]", self.response_id)
        where.add("partner_id = %s", self.partner_id)
        where.add("customer_known = %s", self.customer_known)
        where.add("search LIKE %s", self.text and f"%{fold(self.text)}%")
        if self.open_only:
            where.clauses.append(f"status <> '{LeadStatus.CONVERTED.value}' AND NOT erased")
        return where


@dataclass(frozen=True)
class OpportunityFilter:
    status: OpportunityStatus | None = None
    owner: str | None = None
    pipeline_id: UUID | None = None
    stage_id: str | None = None
    account_id: UUID | None = None
    contact_id: UUID | None = None
    at_risk: bool | None = None
    partner_id: UUID | None = None
    customer_known: bool | None = None

    def where(self) -> Where:
        where = Where()
        where.add("status = %s", self.status and self.status.value)
        names = ("owner", "pipeline_id", "stage_id", "account_id", "contact_id", "at_risk")
        for name in (*names, "partner_id", "customer_known"):
            where.add(f"{name} = %s", getattr(self, name))
        return where


_LEAD_COLUMNS = tuple(field.name for field in fields(LeadEntry))
_OPPORTUNITY_COLUMNS = tuple(field.name for field in fields(OpportunityEntry))
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {LEADS} (lead_id uuid PRIMARY KEY, position bigint NOT NULL,"
    " version integer NOT NULL, status text NOT NULL, source text NOT NULL, given_name text,"
    " family_name text, company text, owner text, score integer NOT NULL, customer_id uuid,"
    " response_ids uuid[] NOT NULL, erased boolean NOT NULL, captured_at timestamptz NOT NULL,"
    " partner_id uuid, search text NOT NULL)",
    # Added after v2 was released: no lead was flagged before, so its rows are right as they are.
    f"ALTER TABLE {LEADS} ADD COLUMN IF NOT EXISTS customer_known boolean NOT NULL DEFAULT true",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_position ON {LEADS} (position)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_customer ON {LEADS} (customer_id, position)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_responses ON {LEADS} USING gin (response_ids)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_partner ON {LEADS} (partner_id, position)",
    f"CREATE TABLE IF NOT EXISTS {OPPORTUNITIES} (opportunity_id uuid PRIMARY KEY,"
    " position bigint NOT NULL, version integer NOT NULL, name text NOT NULL,"
    " pipeline_id uuid NOT NULL, stage_id text NOT NULL, status text NOT NULL,"
    " amount numeric NOT NULL, currency text NOT NULL, probability integer NOT NULL,"
    " expected_close_date date NOT NULL, closed_on date, owner text NOT NULL, account_id uuid,"
    " contact_id uuid, lead_id uuid, at_risk boolean NOT NULL, opened_at timestamptz NOT NULL,"
    " partner_id uuid, customer_known boolean NOT NULL DEFAULT true)",
    # Added after v2 was released: no deal was flagged before, so its rows are right as they are.
    f"ALTER TABLE {OPPORTUNITIES} ADD COLUMN IF NOT EXISTS"
    " customer_known boolean NOT NULL DEFAULT true",
    f"CREATE INDEX IF NOT EXISTS {OPPORTUNITIES}_position ON {OPPORTUNITIES} (position)",
    f"CREATE INDEX IF NOT EXISTS {OPPORTUNITIES}_account ON {OPPORTUNITIES} (account_id, status)",
    f"CREATE INDEX IF NOT EXISTS {OPPORTUNITIES}_contact ON {OPPORTUNITIES} (contact_id)",
    f"CREATE INDEX IF NOT EXISTS {OPPORTUNITIES}_lead ON {OPPORTUNITIES} (lead_id)",
    f"CREATE INDEX IF NOT EXISTS {OPPORTUNITIES}_partner ON {OPPORTUNITIES} (partner_id)",
    f"CREATE TABLE IF NOT EXISTS {PIPELINES} (pipeline_id uuid PRIMARY KEY,"
    " version integer NOT NULL)",
)


class PipelineIndex(AggregateRows[Entry]):
    """The read model (see the module): the worker's ``loop()``; queries catch up first."""

    name = PROJECTION
    topics = stored_topics_of(Lead, Opportunity, Pipeline)

    def create_schema(self, cursor: Any) -> None:
        for statement in _SCHEMA:
            cursor.execute(statement)

    def row(self, aggregate: Any, position: int) -> Entry:
        if isinstance(aggregate, Lead):
            return LeadEntry.of(aggregate, position)
        if isinstance(aggregate, Opportunity):
            return OpportunityEntry.of(aggregate, position)
        return PipelineEntry(aggregate.id, aggregate.version)

    def write(self, cursor: Any, changes: list[Entry]) -> None:
        leads = [_values(e) for e in changes if isinstance(e, LeadEntry)]
        opportunities = [_values(e) for e in changes if isinstance(e, OpportunityEntry)]
        pipelines = [astuple(e) for e in changes if isinstance(e, PipelineEntry)]
        upsert(cursor, LEADS, _LEAD_COLUMNS, leads, keep=("position",))
        upsert(cursor, OPPORTUNITIES, _OPPORTUNITY_COLUMNS, opportunities, keep=("position",))
        upsert(cursor, PIPELINES, ("pipeline_id", "version"), pipelines)

    def reset(self, cursor: Any) -> None:
        cursor.execute(f"TRUNCATE {LEADS}, {OPPORTUNITIES}, {PIPELINES}")

    # --- queries (each catches up first) --------------------------------------------------------

    def leads(self, keep: LeadFilter = LeadFilter()) -> list[LeadEntry]:
        """Matching leads, newest first."""
        where = keep.where()
        found = self.select(
            f"SELECT {', '.join(_LEAD_COLUMNS)} FROM {LEADS}{where} ORDER BY position DESC",
            where.params,
        )
        return [_lead(row) for row in found]

    def opportunities(
        self, keep: OpportunityFilter = OpportunityFilter()
    ) -> list[OpportunityEntry]:
        """Matching opportunities, newest first."""
        where = keep.where()
        found = self.select(
            f"SELECT {', '.join(_OPPORTUNITY_COLUMNS)} FROM {OPPORTUNITIES}{where}"
            " ORDER BY position DESC",
            where.params,
        )
        return [_opportunity(row) for row in found]

    def opportunities_of(self, customer_id: UUID, lead_ids: Collection[UUID]) -> list[UUID]:
        """Every opportunity on the customer's account, with them as contact, or converted from
        one of ``lead_ids`` (theirs)."""
        found = self.select(
            f"SELECT opportunity_id FROM {OPPORTUNITIES}"
            " WHERE account_id = %s OR contact_id = %s OR lead_id = ANY(%s)",
            (customer_id, customer_id, list(lead_ids)),
        )
        return [row["opportunity_id"] for row in found]

    def pipeline_ids(self) -> set[UUID]:
        return {row["pipeline_id"] for row in self.select(f"SELECT pipeline_id FROM {PIPELINES}")}

    def stages_in_use(self, pipeline_id: UUID) -> set[str]:
        """Stages of the pipeline holding open opportunities (a revision must keep them)."""
        found = self.select(
            f"SELECT DISTINCT stage_id FROM {OPPORTUNITIES} WHERE pipeline_id = %s AND status = %s",
            (pipeline_id, OpportunityStatus.OPEN.value),
        )
        return {row["stage_id"] for row in found}


def _values(entry: LeadEntry | OpportunityEntry) -> tuple[Any, ...]:
    return tuple(map(_column, astuple(entry)))


def _column(value: Any) -> Any:
    """As a column holds it: an enum as its value, a set as an array."""
    if isinstance(value, LeadStatus | LeadSource | OpportunityStatus):
        return value.value
    return sorted(value) if isinstance(value, frozenset) else value


def _lead(row: dict[str, Any]) -> LeadEntry:
    return LeadEntry(
        **{
            **row,
            "status": LeadStatus(row["status"]),
            "source": LeadSource(row["source"]),
            "response_ids": frozenset(row["response_ids"]),
        }
    )


def _opportunity(row: dict[str, Any]) -> OpportunityEntry:
    return OpportunityEntry(**{**row, "status": OpportunityStatus(row["status"])})
