"""Request and response bodies of the service-desk API."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from crm_platform.web.commands import CommandBody, ConditionalBody
from crm_platform.web.pages import EMBEDDED_LIMIT, Position, bad_cursor, embedded, instant_part

from ..application.index import Position as QueuePosition
from ..application.views import TicketView
from ..domain import Category, Channel, EscalationReason, Message, Priority, SlaTarget, Status
from ..domain.article import ARTICLE_BODY_MAX_LENGTH, MAX_TAGS, TAG_MAX_LENGTH
from ..domain.values import (
    AGENT_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    TEXT_MAX_LENGTH,
)

Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_MAX_LENGTH)
]


class OpenTicket(CommandBody):
    customer_id: UUID
    organization_id: UUID | None = None
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX_LENGTH)
    description: str = Field(min_length=1, max_length=TEXT_MAX_LENGTH)
    channel: Channel = Channel.API
    priority: Priority = Priority.NORMAL
    category: Category = Category.QUESTION


class AssignTicket(ConditionalBody):
    assignee: str = Field(min_length=1, max_length=AGENT_MAX_LENGTH, description="A user id.")


class ChangeStatus(ConditionalBody):
    """A command that needs nothing but the ticket's version."""


class EscalateTicket(ConditionalBody):
    reason: EscalationReason
    escalated_to: str | None = Field(default=None, min_length=1, max_length=AGENT_MAX_LENGTH)


class PostMessage(ConditionalBody):
    body: str = Field(min_length=1, max_length=TEXT_MAX_LENGTH)


class ResolveTicket(ConditionalBody):
    resolution: str | None = Field(default=None, min_length=1, max_length=TEXT_MAX_LENGTH)


def _given(field: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"not": {"type": "null"}}}}


class ReclassifyTicket(ConditionalBody):
    """What is not given stays as it is; at least one is given."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [_given("category"), _given("priority")]})

    category: Category | None = None
    priority: Priority | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> ReclassifyTicket:
        if self.category is None and self.priority is None:
            raise ValueError("give a category, a priority or both")
        return self


class RateTicket(ConditionalBody):
    rating: int = Field(ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied).")
    comment: str | None = Field(default=None, min_length=1, max_length=COMMENT_MAX_LENGTH)


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: UUID
    public: bool = Field(description="A reply the customer sees; false for an internal note.")
    author_id: str | None = Field(description="The agent; null for the customer.")
    body: str | None = Field(description="Null once the requester was erased.")
    channel: Channel
    at: datetime
    ticket_version: int


class SlaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    target: SlaTarget
    due_at: datetime | None = Field(description="Null once met, breached or while paused.")
    met: bool
    breached_at_due: datetime | None = Field(description="The deadline missed, if it was.")


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    reference: str = Field(description="Quote it as [#reference] in e-mail subjects.")
    customer_id: UUID | None
    customer_known: bool = Field(
        description="False: customer_id names a customer no service has heard of (yet); "
        "cleared when contacts registers that customer."
    )
    organization_id: UUID | None
    subject: str | None
    description: str | None
    channel: Channel
    priority: Priority
    category: Category
    status: Status
    assignee: str | None
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    sla: list[SlaOut]
    rating: int | None
    rating_comment: str | None
    reopen_count: int
    messages: list[MessageOut] = Field(
        description=f"The first {EMBEDDED_LIMIT} of the conversation; the others in messages_next."
    )
    messages_next: str | None = Field(
        default=None, description="Path of the next page of messages; null: all are shown."
    )
    version: int

    @classmethod
    def of(cls, ticket: TicketView) -> TicketOut:
        """The ticket with the first page of its conversation."""
        messages, following = embedded(
            ticket.messages, message_position, f"/tickets/{ticket.id}/messages"
        )
        details = {field.name: getattr(ticket, field.name) for field in fields(ticket)}
        return cls.model_validate(details | {"messages": messages, "messages_next": following})


class MessagePageOut(BaseModel):
    ticket_id: UUID
    version: int
    items: list[MessageOut] = Field(description="The conversation as recorded, one page.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: the last.")


def message_position(message: Message) -> Position:
    """Where a message stands in its conversation: the ticket version it was recorded in."""
    return (f"{message.ticket_version:020d}",)


def queue_position(ticket: TicketView) -> Position:
    """Where a ticket stands in a queue: newest first, ties broken by id."""
    return (instant_part(ticket.opened_at), str(ticket.id))


def queue_after(position: Position | None) -> QueuePosition | None:
    """The queue position a cursor names (``queue_position``'s), typed for the index."""
    if position is None:
        return None
    try:
        opened_at, ticket_id = datetime.fromisoformat(position[0]), UUID(position[1])
    except ValueError:
        raise bad_cursor() from None
    if opened_at.tzinfo is None:
        raise bad_cursor()
    return opened_at, ticket_id


class TicketSummaryOut(BaseModel):
    """A ticket in a queue: without its conversation."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    reference: str
    customer_id: UUID | None
    organization_id: UUID | None
    subject: str | None
    channel: Channel
    priority: Priority
    category: Category
    status: Status
    assignee: str | None
    opened_at: datetime
    sla: list[SlaOut]
    version: int


class TicketPageOut(BaseModel):
    items: list[TicketSummaryOut]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page.")


class DraftArticle(CommandBody):
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=SUBJECT_MAX_LENGTH,
        description="Required unless drafted from a ticket (then its subject).",
    )
    body: str | None = Field(
        default=None,
        min_length=1,
        max_length=ARTICLE_BODY_MAX_LENGTH,
        description="Required unless drafted from a ticket (then its resolution).",
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    source_ticket_id: UUID | None = Field(default=None, description="A resolved ticket.")


class ReviseArticle(ConditionalBody):
    title: str | None = Field(default=None, min_length=1, max_length=SUBJECT_MAX_LENGTH)
    body: str | None = Field(default=None, min_length=1, max_length=ARTICLE_BODY_MAX_LENGTH)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)


class PublishArticle(ConditionalBody):
    """Publish the article's current text."""


class ArticleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    title: str
    body: str
    tags: list[str]
    source_ticket_id: UUID | None
    author: str
    revision: int = Field(description="Publications so far.")
    published_at: datetime | None
    unpublished_changes: bool
    version: int


class ArticleHit(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    article_id: UUID
    revision: int
    title: str
    body: str
    tags: list[str]
    published_at: datetime


class ArticleHits(BaseModel):
    query: str
    items: list[ArticleHit]


# --- the SLA policy -----------------------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # the platform's one vocabulary
# Accepted on input for one release (deprecated): the names the service desk used before.
DEPRECATED_WEEKDAY_NAMES = dict(
    zip(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        WEEKDAYS,
        strict=True,
    )
)
ClockTime = Annotated[
    str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")
]  # HH:MM; 24:00 is the end of the day


class WorkingPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: ClockTime
    end: ClockTime


class WeeklyHours(BaseModel):
    """Each weekday's working periods, in the calendar's time zone; a day left out is closed.

    Days are named ``mon`` to ``sun``, as everywhere in the platform (a person's contact hours
    too). Deprecated: the long names (``monday``...) are still accepted on input, for this
    release only; answers use the short ones.
    """

    model_config = ConfigDict(extra="forbid")

    mon: list[WorkingPeriod] = Field(default_factory=list, max_length=8)
    tue: list[WorkingPeriod] = Field(default_factory=list, max_length=8)
    wed: list[WorkingPeriod] = Field(default_factory=list, max_length=8)
    thu: list[WorkingPeriod] = Field(default_factory=list, max_length=8)
    fri: list[WorkingPeriod] = Field(default_factory=list, max_length=8)
    sat: list[WorkingPeriod] = Field(default_factory=list, max_length=8)
    sun: list[WorkingPeriod] = Field(default_factory=list, max_length=8)

    @model_validator(mode="before")
    @classmethod
    def _short_day_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        named: dict[str, Any] = {}
        for name, periods in data.items():
            day = DEPRECATED_WEEKDAY_NAMES.get(str(name), str(name))
            if day in named:
                raise ValueError(f"{day} is given twice (as {day} and as {name})")
            named[day] = periods
        return named


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_zone: str = Field(min_length=1, max_length=64, examples=["Europe/Paris"])
    hours: WeeklyHours
    holidays: list[date] = Field(default_factory=list, max_length=366)


class TargetIn(BaseModel):
    """Business minutes (working time of the calendar), at most a year's worth."""

    model_config = ConfigDict(extra="forbid")

    first_response_minutes: int = Field(gt=0, le=525_600)
    resolution_minutes: int = Field(gt=0, le=525_600)


class TargetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urgent: TargetIn
    high: TargetIn
    normal: TargetIn
    low: TargetIn


class SlaPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calendar: CalendarIn
    targets: TargetsIn
    expected_version: int | None = Field(
        default=None, ge=0, description="The version seen (or send If-Match); 0: the default."
    )

    def stated(self) -> dict[str, Any]:
        """The domain's JSON form (``SlaPolicy.from_dict``)."""
        hours = self.calendar.hours
        return {
            "calendar": {
                "time_zone": self.calendar.time_zone,
                "hours": [[[p.start, p.end] for p in getattr(hours, day)] for day in WEEKDAYS],
                "holidays": [d.isoformat() for d in self.calendar.holidays],
            },
            "targets": self.targets.model_dump(),
        }


class SlaPolicyOut(BaseModel):
    version: int = Field(description="0 while the configured default is in force.")
    calendar: CalendarIn
    targets: dict[Priority, TargetIn]
    adopted_by: str | None
    adopted_at: datetime | None

    @classmethod
    def of(cls, view: Any) -> SlaPolicyOut:
        calendar = view.policy["calendar"]
        hours = {
            day: [{"start": start, "end": end} for start, end in periods]
            for day, periods in zip(WEEKDAYS, calendar["hours"], strict=True)
        }
        return cls(
            version=view.version,
            calendar=CalendarIn(
                time_zone=calendar["time_zone"],
                hours=WeeklyHours.model_validate(hours),
                holidays=calendar["holidays"],
            ),
            targets={
                Priority(name): TargetIn(
                    first_response_minutes=round(t["first_response_minutes"]),
                    resolution_minutes=round(t["resolution_minutes"]),
                )
                for name, t in view.policy["targets"].items()
            },
            adopted_by=view.adopted_by,
            adopted_at=view.adopted_at,
        )
