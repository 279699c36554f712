"""Segment events, topic ``crm.marketing.segment.v1``.

A segment is a named set of customers: a static list kept by hand, or a dynamic segment whose
rule marketing re-evaluates whenever it learns something about a customer. Every change of
membership is an event, so a downstream system can follow who is in a segment without asking.
Members are named by customer id only: no personal data travels here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event


class SegmentKind(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"


class _SegmentEvent(EventData):
    source_service = "marketing"
    aggregate_type = "segment"
    schema_version = 1

    segment_id: UUID


@event
class SegmentDefined(_SegmentEvent):
    """A segment was created (static) or given its rule (dynamic)."""

    event_type = "SegmentDefined"

    name: str = Field(min_length=1, max_length=200)
    kind: SegmentKind
    rule: dict[str, Any] | None = Field(
        default=None,
        description=(
            "The dynamic segment's rule: {'all': [...]} / {'any': [...]} of conditions "
            "{'attribute', 'operator', 'value'}; None for a static list."
        ),
    )
    defined_by: str
    defined_at: AwareDatetime


@event
class SegmentMemberAdded(_SegmentEvent):
    """A customer joined the segment (added to the list, or now matching the rule)."""

    event_type = "SegmentMemberAdded"

    customer_id: UUID
    added_at: AwareDatetime


@event
class SegmentMemberRemoved(_SegmentEvent):
    """A customer left the segment (removed from the list, or no longer matching the rule)."""

    event_type = "SegmentMemberRemoved"

    customer_id: UUID
    removed_at: AwareDatetime
