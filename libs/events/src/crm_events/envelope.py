"""The envelope every integration event travels in.

Attribute names follow CloudEvents 1.0 (``specversion``, ``id``, ``type``, ``source``, ``subject``,
``time``, ``datacontenttype``, ``dataschema``) plus lower-case extension attributes for what
CloudEvents leaves out (aggregate identity and version, correlation, causation, actor) and the W3C
trace context of its distributed-tracing extension (``traceparent``, ``tracestate``).

On Kafka the value is the whole event as JSON (CloudEvents structured mode) and the same attributes
are repeated as ``ce_*`` headers (the CloudEvents Kafka binding) so that routers and filters need not
parse the value. The record key is the aggregate id, which keeps every aggregate's events in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"


class EventData(BaseModel):
    """Base of every event payload.

    Unknown fields are ignored so that a consumer built against an older minor revision keeps parsing
    payloads that gained optional fields (changes inside a major version are additive only).
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
    id: UUID = Field(description="Unique event id; the same for every redelivery of the event.")
    type: str = Field(description="Event type, e.g. CustomerRegistered.")
    source: str = Field(description="The producing service, as a URI reference: /crm/<service>.")
    subject: str = Field(description="The aggregate id (also the Kafka record key).")
    time: AwareDatetime = Field(description="When the event occurred (UTC).")
    datacontenttype: Literal["application/json"] = CONTENT_TYPE
    dataschema: str = Field(description="URN naming the payload's schema and major version.")
    schemaversion: int = Field(ge=1, description="Major version of the payload schema.")
    aggregatetype: str = Field(description="Type of the aggregate that emitted the event.")
    aggregateid: str = Field(description="Id of the aggregate that emitted the event.")
    aggregateversion: int = Field(ge=1, description="Version of the aggregate after this event.")
    correlationid: str = Field(description="Id shared by every event caused by one request.")
    causationid: str | None = Field(
        default=None, description="Id of the request or event that caused this one."
    )
    actor: str | None = Field(default=None, description="Who issued the command (subject of the token).")
    traceparent: str | None = Field(default=None, description="W3C trace context of the command.")
    tracestate: str | None = None
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
        """CloudEvents Kafka-binding headers, plus the W3C trace context under its own names."""
        attributes: dict[str, Any] = {
            "ce_specversion": self.specversion,
            "ce_id": str(self.id),
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_subject": self.subject,
            "ce_time": self.time.isoformat(),
            "ce_dataschema": self.dataschema,
            "ce_schemaversion": str(self.schemaversion),
            "ce_aggregatetype": self.aggregatetype,
            "ce_aggregateid": self.aggregateid,
            "ce_aggregateversion": str(self.aggregateversion),
            "ce_correlationid": self.correlationid,
            "ce_causationid": self.causationid,
            "ce_actor": self.actor,
            "traceparent": self.traceparent,
            "tracestate": self.tracestate,
            "content-type": STRUCTURED_CONTENT_TYPE,
        }
        return [(k, str(v).encode()) for k, v in attributes.items() if v is not None]


class Envelope(Event[dict[str, Any]]):  # type: ignore[type-var]
    """An event whose payload has not been resolved to a model yet (first parsing step)."""

    data: dict[str, Any]
