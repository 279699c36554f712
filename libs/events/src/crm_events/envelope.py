"""The envelope every integration event travels in.

Attribute names follow CloudEvents 1.0 (``specversion``, ``id``, ``type``, ``source``, ``subject``,
``time``, ``datacontenttype``, ``dataschema``) plus lower-case extension attributes for what
CloudEvents leaves out (aggregate identity and version, correlation, causation, actor) and the W3C
trace context of its distributed-tracing extension (``traceparent``, ``tracestate``).

On Kafka the value is the whole event as JSON (CloudEvents structured mode), announced by the
header ``content-type: application/cloudevents+json``. No ``ce_*`` header repeats the attributes:
the CloudEvents SDKs take any ``ce_*`` header for binary mode and would return the whole envelope
as ``data``. Only the W3C trace context is also a header, under its own names, for tracing
instrumentation that reads headers. The record key is the aggregate id, which keeps every
aggregate's events in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Generic, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SPEC_VERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"


class EventData(BaseModel):
    """Base of every event payload.

    Unknown fields are ignored so that a consumer built against an older minor revision keeps
    parsing payloads that gained optional fields (changes inside a major version are additive only).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int]
    source_service: ClassVar[str]
    aggregate_type: ClassVar[str]
    description: ClassVar[str] = ""

    @classmethod
    def topic(cls) -> str:
        return topic_name(cls.source_service, cls.aggregate_type, cls.schema_version)

    @classmethod
    def dataschema(cls) -> str:
        return dataschema_uri(cls.event_type, cls.schema_version)


D = TypeVar("D", bound=EventData)


def topic_name(source_service: str, aggregate_type: str, major_version: int) -> str:
    """One topic per aggregate type and major version, e.g. ``crm.contacts.customer.v1``."""
    return f"crm.{source_service}.{aggregate_type}.v{major_version}"


def dataschema_uri(event_type: str, version: int) -> str:
    return f"urn:crm:events:{event_type}:v{version}"


class Event(BaseModel, Generic[D]):
    """An integration event: CloudEvents attributes, CRM extensions and the typed payload."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = SPEC_VERSION
    id: UUID = Field(
        description="Unique per published event, the same on every redelivery: deduplicate on it."
    )
    type: str = Field(description="Event type, e.g. CustomerRegistered.")
    source: str = Field(description="The producing service, as a URI reference: /crm/<service>.")
    subject: str = Field(description="The aggregate id (also the Kafka record key).")
    time: AwareDatetime = Field(description="When the event occurred (UTC).")
    datacontenttype: Literal["application/json"] = CONTENT_TYPE
    dataschema: str = Field(description="URN naming the payload's schema and major version.")
    schemaversion: int = Field(ge=1, description="Major version of the payload schema.")
    aggregatetype: str = Field(description="Type of the aggregate that emitted the event.")
    aggregateid: str = Field(description="Id of the aggregate that emitted the event.")
    aggregateversion: int = Field(
        ge=1,
        description=(
            "Version of the aggregate after the change this event announces. One change may"
            " announce several events of the aggregate (OrganizationRegistered, then"
            " PartnerRegistered), which share it and follow one another in the partition: an"
            " order for ignoring stale events, not an identity."
        ),
    )
    correlationid: str = Field(description="Id shared by every event caused by one request.")
    causationid: str | None = Field(
        default=None, description="Id of the request or event that caused this one."
    )
    actor: str | None = Field(
        default=None, description="Who issued the command (subject of the token)."
    )
    traceparent: str | None = Field(default=None, description="W3C trace context of the command.")
    tracestate: str | None = Field(default=None, description="W3C trace state of the command.")
    data: D

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    def kafka_key(self) -> bytes:
        return self.aggregateid.encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The structured-mode content type, then the W3C trace context when there is one."""
        trace_context = [
            (name, value.encode())
            for name in TRACE_CONTEXT_ATTRIBUTES
            if (value := getattr(self, name)) is not None
        ]
        return [("content-type", STRUCTURED_CONTENT_TYPE.encode()), *trace_context]


def build_event(
    data: D,
    *,
    aggregate_id: UUID | str,
    aggregate_version: int = 1,
    source_service: str | None = None,
    time: datetime | None = None,
    event_id: UUID | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    actor: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> Event[D]:
    """``data`` in its envelope, every attribute filled as producers publish it.

    The subject and the record key are the aggregate; the type, schema and aggregate type come
    from the payload's contract, the source from its service unless another publishes it. By
    default the event is new (a random id, now) and starts a correlation of its own (its id).
    """
    event_id = event_id or uuid4()
    aggregate = str(aggregate_id)
    # The envelope parametrised by the payload's class: what ``registry.parse`` gives back too.
    typed: Any = Event[type(data)]  # type: ignore[misc]  # a runtime class, not a static type
    event: Event[D] = typed(
        id=event_id,
        type=data.event_type,
        source=f"/crm/{source_service or data.source_service}",
        subject=aggregate,
        time=time or datetime.now(UTC),
        dataschema=data.dataschema(),
        schemaversion=data.schema_version,
        aggregatetype=data.aggregate_type,
        aggregateid=aggregate,
        aggregateversion=aggregate_version,
        correlationid=correlation_id or str(event_id),
        causationid=causation_id,
        actor=actor,
        traceparent=traceparent,
        tracestate=tracestate,
        data=data,
    )
    return event


# Also headers, under their W3C names, so that OpenTelemetry's Kafka propagation finds them.
TRACE_CONTEXT_ATTRIBUTES = ("traceparent", "tracestate")


class Envelope(Event[dict[str, Any]]):  # type: ignore[type-var]
    """An event whose payload has not been resolved to a model yet (first parsing step)."""

    data: dict[str, Any]
