"""Campaigns: an e-mail or telemarketing action towards the members of some segments.

Lifecycle: draft -> scheduled -> running -> completed, or cancelled before completion. At launch
the audience is materialized once (``audience.materialize``) and frozen: later changes of the
segments do not change who a running campaign reaches, but an unsubscribe does (the mailer checks
each recipient again just before sending).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from crm_platform.commands import WithoutRequestIds
from crm_platform.values import MAX_AMOUNT, MINOR_UNITS

from .errors import InvalidTransition, RuleViolation
from .rules import annual_date_of, parse_rule
from .singleton import CampaignRegister

NAME_MAX_LENGTH = 200
SUBJECT_MAX_LENGTH = 250
BODY_MAX_LENGTH = 100_000
MAX_LINKS = 20
MAX_SEGMENTS = 20
MAX_AGENTS = 100
AGENT_MAX_LENGTH = 200
REASON_MAX_LENGTH = 1000
CLOCK_SKEW = timedelta(minutes=5)


class CampaignChannel(StrEnum):
    EMAIL = "email"
    TELEMARKETING = "telemarketing"

    @property
    def contact_channel(self) -> str:
        """The channel consent and unsubscribes are recorded for."""
        return "email" if self is CampaignChannel.EMAIL else "phone"


class Status(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CallOutcome(StrEnum):
    INTERESTED = "interested"
    CALL_BACK = "call_back"
    NOT_INTERESTED = "not_interested"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    DO_NOT_CALL = "do_not_call"

    @property
    def is_response(self) -> bool:
        return self in (CallOutcome.INTERESTED, CallOutcome.CALL_BACK)


@dataclass(frozen=True)
class EmailContent:
    """A template pair (HTML and text) and the links it may point to, by name: the only URLs
    the click redirect will ever send anyone to."""

    subject: str
    html: str
    text: str
    links: dict[str, str]
    offer_links: tuple[str, ...]  # clicks on these are responses (possible leads)

    def validated(self) -> EmailContent:
        _bounded("content.subject", self.subject, SUBJECT_MAX_LENGTH)
        _bounded("content.html", self.html, BODY_MAX_LENGTH)
        _bounded("content.text", self.text, BODY_MAX_LENGTH)
        if len(self.links) > MAX_LINKS:
            raise RuleViolation("content.links", f"at most {MAX_LINKS} links")
        for name, url in self.links.items():
            if not name.isidentifier() or len(name) > 50:
                raise RuleViolation(f"content.links.{name}", "names are identifiers (a-z, 0-9, _)")
            parts = urlsplit(url)
            # Spaces and control characters would end up in the redirect's Location header.
            unsafe = any(c.isspace() or not c.isprintable() for c in url)
            if parts.scheme != "https" or not parts.netloc or len(url) > 2000 or unsafe:
                raise RuleViolation(f"content.links.{name}", "must be an absolute https URL")
        for i, name in enumerate(self.offer_links):
            if name not in self.links:
                raise RuleViolation(f"content.offer_links.{i}", f"{name!r} is not a link")
        return self

    def as_state(self) -> dict[str, Any]:
        """JSON-native, as stored in the event."""
        return {**vars(self), "links": dict(self.links), "offer_links": list(self.offer_links)}


# What can trigger an automated campaign: a customer's events, and annual dates of the customer
# file (the day comes without an event: the scheduler looks for them all day long): the
# customer's birthday, or ``AnnualDate``, a date the automation names (a family member's
# birthday, an important date) ``days_before`` days ahead.
BIRTHDAY = "Birthday"
ANNUAL_DATE = "AnnualDate"
TRIGGERS = (
    BIRTHDAY,
    ANNUAL_DATE,
    "CustomerRegistered",
    "ConsentGranted",
    "OrderPlaced",
    "OpportunityWon",
    "TicketClosed",
    "ChurnRiskChanged",  # win-back: with a condition such as churn_risk equals high
)
MAX_DELAY = timedelta(days=365)


@dataclass(frozen=True)
class Automation:
    """When ``trigger`` happens to a customer whose facts meet ``conditions``, send the
    campaign's e-mail to them ``delay`` later (consent and unsubscribes checked at sending)."""

    trigger: str
    delay: timedelta
    conditions: dict[str, Any] | None = None
    date: str | None = None  # AnnualDate: the annual date attribute it watches
    days_before: int = 0  # AnnualDate: how many days ahead of the date it sends
    owner_task: str | None = None  # also a task of this subject for the customer's owner

    def validated(self) -> Automation:
        if self.trigger not in TRIGGERS:
            raise RuleViolation("automation.trigger", f"one of {list(TRIGGERS)}")
        if not timedelta(0) <= self.delay <= MAX_DELAY:
            raise RuleViolation("automation.delay_seconds", "from 0 to 365 days")
        if self.conditions is not None:
            parse_rule(self.conditions, "automation.conditions")
        annual_date_of(self)
        if self.owner_task is not None:
            _bounded("automation.owner_task", self.owner_task, NAME_MAX_LENGTH)
        return self

    @property
    def annual_date(self) -> str | None:
        """The annual date whose coming triggers it, if any."""
        return "birthday" if self.trigger == BIRTHDAY else self.date

    def as_state(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "delay_seconds": int(self.delay.total_seconds()),
            "conditions": self.conditions,
            "date": self.date,
            "days_before": self.days_before,
            "owner_task": self.owner_task,
        }

    @classmethod
    def of(cls, state: dict[str, Any]) -> Automation:
        return cls(
            state["trigger"],
            timedelta(seconds=state["delay_seconds"]),
            state["conditions"],
            # Absent from automations drafted before annual dates and owner tasks.
            state.get("date"),
            state.get("days_before", 0),
            state.get("owner_task"),
        )


def _bounded(field: str, text: str, limit: int) -> None:
    if not text.strip() or len(text) > limit:
        raise RuleViolation(field, f"must have 1 to {limit} characters")


@dataclass(frozen=True)
class Money:
    """A campaign's budget or cost: an amount of zero or more in the minor units of an ISO 4217
    currency money is kept in."""

    amount: Decimal
    currency: str

    def validated(self, field: str) -> Money:
        if self.currency not in MINOR_UNITS:
            raise RuleViolation(f"{field}.currency", "an ISO 4217 currency money is kept in")
        places = MINOR_UNITS[self.currency]
        exact = self.amount.is_finite() and self.amount == round(self.amount, places)
        if not exact or not 0 <= self.amount < MAX_AMOUNT:
            raise RuleViolation(f"{field}.amount", f"0 or more, with at most {places} decimals")
        return self

    def as_state(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency}


def message_id(campaign_id: UUID, customer_id: UUID) -> UUID:
    """One message per campaign and recipient: a relaunch or redelivery cannot double it."""
    return uuid5(campaign_id, str(customer_id))


class Campaign(Aggregate):
    id: UUID

    class Event(WithoutRequestIds, Aggregate.Event):
        pass

    @classmethod
    def draft(
        cls,
        campaign_id: UUID,
        *,
        name: str,
        channel: CampaignChannel,
        purpose: str,
        segment_ids: list[UUID],
        content: EmailContent | None,
        agents: list[str],
        created_by: str,
        automation: Automation | None = None,
        budget: Money | None = None,
        cost: Money | None = None,
    ) -> Campaign:
        _bounded("name", name, NAME_MAX_LENGTH)
        if automation is not None:
            if channel is not CampaignChannel.EMAIL or segment_ids:
                raise RuleViolation(
                    "automation",
                    "automated campaigns send e-mail, to no segment: to whom "
                    "their trigger and conditions select",
                )
        elif not 1 <= len(set(segment_ids)) <= MAX_SEGMENTS:
            raise RuleViolation("segment_ids", f"name 1 to {MAX_SEGMENTS} segments")
        if channel is CampaignChannel.EMAIL and content is None:
            raise RuleViolation("content", "an e-mail campaign needs its content")
        if channel is CampaignChannel.TELEMARKETING and not 1 <= len(set(agents)) <= MAX_AGENTS:
            raise RuleViolation(
                "agents", f"a telemarketing campaign needs 1 to {MAX_AGENTS} agents"
            )
        campaign: Campaign = cls(
            id=campaign_id,
            name=name.strip(),
            channel=channel.value,
            purpose=purpose,
            segment_ids=list(dict.fromkeys(segment_ids)),
            content=None if content is None else content.validated().as_state(),
            agents=list(dict.fromkeys(agents)),
            created_by=created_by,
            automation=None if automation is None else automation.validated().as_state(),
            budget=None if budget is None else budget.validated("budget").as_state(),
            cost=None if cost is None else cost.validated("cost").as_state(),
        )
        return campaign

    @event("Drafted")
    def __init__(
        self,
        name: str,
        channel: str,
        purpose: str,
        segment_ids: list[UUID],
        content: dict[str, Any] | None,
        agents: list[str],
        created_by: str,
        automation: dict[str, Any] | None = None,
        budget: dict[str, str] | None = None,
        cost: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.budget = budget
        self.cost = cost
        self.automation = automation
        self.channel = channel
        self.purpose = purpose
        self.segment_ids = segment_ids
        self.content = content
        self.agents = agents
        self.created_by = created_by
        self.status = Status.DRAFT.value
        self.launch_at: datetime | None = None
        self.recipients: list[UUID] = []
        self.excluded = 0
        self.calls: dict[UUID, str] = {}  # customer -> agent
        self.call_outcomes: dict[UUID, str] = {}

    @property
    def email_content(self) -> EmailContent | None:
        if self.content is None:
            return None
        return EmailContent(**{**self.content, "offer_links": tuple(self.content["offer_links"])})

    # --- lifecycle ----------------------------------------------------------------------------

    def schedule(self, launch_at: datetime, *, by: str, now: datetime) -> None:
        self._expect(Status.DRAFT, "schedule")
        if launch_at.utcoffset() is None:
            raise RuleViolation("launch_at", "must include a time zone offset")
        if launch_at < now - CLOCK_SKEW:
            raise RuleViolation("launch_at", "must not be in the past")
        self._scheduled(launch_at=launch_at, by=by)

    @event("Scheduled")
    def _scheduled(self, launch_at: datetime, by: str) -> None:
        self.status = Status.SCHEDULED.value
        self.launch_at = launch_at

    def launch(self, recipients: tuple[UUID, ...], excluded: int, *, now: datetime) -> None:
        self._expect((Status.DRAFT, Status.SCHEDULED), "launch")
        calls = {}
        if self.channel == CampaignChannel.TELEMARKETING:
            # Round robin: every agent gets a call list of nearly the same length.
            calls = {str(c): self.agents[i % len(self.agents)] for i, c in enumerate(recipients)}
        self._launched(
            recipients=list(recipients),
            excluded=excluded,
            calls=calls,
            launched_at=now,
            budget=self.budget,
            cost=self.cost,
        )
        if not recipients and self.automation is None:
            self.complete(now)  # nobody to reach; an automated campaign waits for its trigger

    @event("Launched")
    def _launched(
        self,
        recipients: list[UUID],
        excluded: int,
        calls: dict[str, str],
        launched_at: datetime,
        budget: dict[str, str] | None = None,
        cost: dict[str, str] | None = None,
    ) -> None:
        self.status = Status.RUNNING.value
        self.recipients = recipients
        self.excluded = excluded
        self.calls = {UUID(customer): agent for customer, agent in calls.items()}
        self.launched_at = launched_at

    def complete(self, now: datetime) -> bool:
        if self.status != Status.RUNNING:
            return False  # the mailer may finish a campaign cancelled meanwhile
        self._completed(completed_at=now)
        return True

    @event("Completed")
    def _completed(self, completed_at: datetime) -> None:
        self.status = Status.COMPLETED.value

    def cancel(self, reason: str, *, by: str, now: datetime) -> None:
        self._expect((Status.DRAFT, Status.SCHEDULED, Status.RUNNING), "cancel")
        _bounded("reason", reason, REASON_MAX_LENGTH)
        self._cancelled(reason=reason.strip(), by=by, cancelled_at=now)

    @event("Cancelled")
    def _cancelled(self, reason: str, by: str, cancelled_at: datetime) -> None:
        self.status = Status.CANCELLED.value

    # --- telemarketing ------------------------------------------------------------------------

    def record_call(
        self, customer_id: UUID, outcome: CallOutcome, *, agent: str, now: datetime
    ) -> None:
        self._expect(Status.RUNNING, "record a call of")
        assigned = self.calls.get(customer_id)
        if assigned is None:
            raise RuleViolation("customer_id", "is not on this campaign's call lists")
        if assigned != agent:
            raise RuleViolation("agent", f"the call is assigned to {assigned}")
        self._call_recorded(
            customer_id=customer_id, outcome=outcome.value, agent=agent, called_at=now
        )
        if self.call_outcomes.keys() >= self.calls.keys():
            self.complete(now)

    @event("CallRecorded")
    def _call_recorded(
        self, customer_id: UUID, outcome: str, agent: str, called_at: datetime
    ) -> None:
        self.call_outcomes[customer_id] = outcome

    def _expect(self, allowed: Status | tuple[Status, ...], action: str) -> None:
        allowed = allowed if isinstance(allowed, tuple) else (allowed,)
        if self.status not in allowed:
            raise InvalidTransition(f"cannot {action} a {self.status} campaign")


class LaunchCalendar(CampaignRegister):
    """The scheduled campaigns and when each is due: what the scheduler polls. Saved together
    with the campaign whenever one is scheduled, launched or cancelled, so the two agree."""

    ID = UUID("0c2d7e1a-93b4-5f60-8a1c-2e4f6b8d0a13")

    @event("Added")
    def _added(self, campaign_id: UUID, launch_at: datetime) -> None:
        self.entries[campaign_id] = launch_at

    @event("Removed")
    def _removed(self, campaign_id: UUID) -> None:
        del self.entries[campaign_id]

    def due_at(self, now: datetime) -> list[UUID]:
        due = self.entries
        return sorted((c for c, at in due.items() if at <= now), key=due.__getitem__)
