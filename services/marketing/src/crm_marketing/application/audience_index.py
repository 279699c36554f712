"""The audience index: who may be reached for what, and who is in which segment, as tables.

A launch to 100,000 people cannot load 100,000 profiles from the event store one by one. This
index keeps, per customer, the channel-and-purpose pairs they may receive (``domain.reach``: no
consent, an unsubscribe or an erasure take pairs out) and the facts dynamic segment rules read,
and the members of every segment; a launch reads a segment's members with their reachability in
one query.

The index follows the notification log of marketing's own store: each page of profile and
membership events is applied with the log position in one transaction, the position row locked,
so a page is applied exactly once even when the worker and a launch catch up at the same time,
and a crash loses nothing. PostgreSQL tables in the marketing database in production, memory
under the unit tests' POPO store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ..domain import (
    Audience,
    AudienceProfile,
    Campaign,
    CampaignChannel,
    NotFound,
    Segment,
    materialize,
    parse_rule,
)
from ..domain.audience import reach, reach_key
from ..domain.rules import Kind, attribute_kind
from .common import Store

PROFILES = "marketing_audience"
SEGMENTS = "marketing_segment_rules"
MEMBERS = "marketing_segment_members"
POSITION = "marketing_audience_position"
PAGE = 2000  # notifications applied per transaction


@dataclass(frozen=True)
class ProfileRow:
    customer_id: UUID
    reach: frozenset[str]  # reach_key of each channel and purpose the customer may receive
    attributes: Mapping[str, Any] | None  # what rules read; None once erased (matches none)

    @classmethod
    def of(cls, profile: AudienceProfile) -> ProfileRow:
        return cls(profile.id, reach(profile), None if profile.erased else profile.attributes())


@dataclass(frozen=True)
class SegmentRow:
    """A segment's rule (None: a static list): what a launch needs of the segment itself,
    without loading an aggregate that holds every membership change."""

    segment_id: UUID
    rule: Mapping[str, Any] | None


@dataclass(frozen=True)
class Membership:
    segment_id: UUID
    customer_id: UUID
    member: bool


@dataclass(frozen=True)
class Member:
    """A segment member as the index knows them; unknown customers come unreachable."""

    customer_id: UUID
    reachable: bool
    attributes: Mapping[str, Any] | None  # only when asked for (dynamic segments)


class AudienceIndex(ABC):
    @abstractmethod
    def position(self) -> int:
        """The notification id up to which the index is current."""

    @abstractmethod
    def apply(self, after: int, upto: int, changes: Changes) -> bool:
        """Apply one page (notifications after ``after`` up to ``upto``) atomically; False,
        changing nothing, when the index is no longer at ``after`` (someone applied it)."""

    @abstractmethod
    def segment(self, segment_id: UUID) -> SegmentRow | None: ...

    @abstractmethod
    def members(self, segment_id: UUID, reach: str, *, attributes: bool) -> list[Member]:
        """The segment's members, each reachable when their reach holds ``reach``."""

    @abstractmethod
    def close(self) -> None:
        """Release the connections."""


class MemoryAudienceIndex(AudienceIndex):
    def __init__(self) -> None:
        self._position = 0
        self._profiles: dict[UUID, ProfileRow] = {}
        self._segments: dict[UUID, SegmentRow] = {}
        self._members: dict[UUID, set[UUID]] = {}

    def position(self) -> int:
        return self._position

    def apply(self, after: int, upto: int, changes: Changes) -> bool:
        if self._position != after:
            return False
        self._profiles.update((row.customer_id, row) for row in changes.profiles)
        self._segments.update((row.segment_id, row) for row in changes.segments)
        for change in changes.memberships:
            members = self._members.setdefault(change.segment_id, set())
            (members.add if change.member else members.discard)(change.customer_id)
        self._position = upto
        return True

    def segment(self, segment_id: UUID) -> SegmentRow | None:
        return self._segments.get(segment_id)

    def members(self, segment_id: UUID, reach: str, *, attributes: bool) -> list[Member]:
        def member(customer_id: UUID) -> Member:
            row = self._profiles.get(customer_id)
            return Member(
                customer_id,
                row is not None and reach in row.reach,
                row.attributes if row is not None and attributes else None,
            )

        return [member(customer_id) for customer_id in self._members.get(segment_id, ())]

    def close(self) -> None:
        """Nothing is held."""


class PostgresAudienceIndex(AudienceIndex):
    def __init__(self, dsn: str) -> None:
        self._pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (PROFILES,))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {PROFILES} (customer_id uuid PRIMARY KEY,"
                " reach text[] NOT NULL, attributes jsonb)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SEGMENTS} (segment_id uuid PRIMARY KEY, rule jsonb)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MEMBERS} (segment_id uuid NOT NULL,"
                " customer_id uuid NOT NULL, PRIMARY KEY (segment_id, customer_id))"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {POSITION} (id boolean PRIMARY KEY DEFAULT true"
                " CHECK (id), notification_id bigint NOT NULL)"
            )
            conn.execute(
                f"INSERT INTO {POSITION} (notification_id) VALUES (0) ON CONFLICT (id) DO NOTHING"
            )

    def position(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT notification_id FROM {POSITION}").fetchone()
        return row[0] if row else 0

    def apply(self, after: int, upto: int, changes: Changes) -> bool:
        # The last change of each membership in the page is the one in force.
        final = {(m.segment_id, m.customer_id): m.member for m in changes.memberships}
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(f"SELECT notification_id FROM {POSITION} FOR UPDATE").fetchone()
            if row is None or row[0] != after:
                return False
            with conn.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {PROFILES} (customer_id, reach, attributes) VALUES (%s, %s, %s)"
                    " ON CONFLICT (customer_id) DO UPDATE"
                    " SET reach = EXCLUDED.reach, attributes = EXCLUDED.attributes",
                    [
                        (p.customer_id, sorted(p.reach), _encoded(p.attributes))
                        for p in changes.profiles
                    ],
                )
                cursor.executemany(
                    f"INSERT INTO {SEGMENTS} (segment_id, rule) VALUES (%s, %s)"
                    " ON CONFLICT (segment_id) DO NOTHING",
                    [(s.segment_id, _json(s.rule)) for s in changes.segments],
                )
                cursor.executemany(
                    f"INSERT INTO {MEMBERS} (segment_id, customer_id) VALUES (%s, %s)"
                    " ON CONFLICT DO NOTHING",
                    [key for key, member in final.items() if member],
                )
                cursor.executemany(
                    f"DELETE FROM {MEMBERS} WHERE segment_id = %s AND customer_id = %s",
                    [key for key, member in final.items() if not member],
                )
            conn.execute(f"UPDATE {POSITION} SET notification_id = %s", (upto,))
        return True

    def segment(self, segment_id: UUID) -> SegmentRow | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT rule FROM {SEGMENTS} WHERE segment_id = %s", (segment_id,)
            ).fetchone()
        return None if row is None else SegmentRow(segment_id, row[0])

    def members(self, segment_id: UUID, reach: str, *, attributes: bool) -> list[Member]:
        facts = "a.attributes" if attributes else "NULL::jsonb"
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT m.customer_id, coalesce(a.reach @> ARRAY[%s], false), {facts}"
                f" FROM {MEMBERS} m LEFT JOIN {PROFILES} a ON a.customer_id = m.customer_id"
                " WHERE m.segment_id = %s",
                (reach, segment_id),
            ).fetchall()
        return [Member(customer, reachable, _decoded(facts)) for customer, reachable, facts in rows]

    def close(self) -> None:
        self._pool.close()


def _encoded(attributes: Mapping[str, Any] | None) -> Jsonb | None:
    """Rule facts as JSON: instants in ISO 8601, numbers as decimal strings, tags as a list."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, frozenset):
            return sorted(value)
        return value

    return None if attributes is None else Jsonb({k: plain(v) for k, v in attributes.items()})


def _json(value: Mapping[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _decoded(stored: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The facts back in the types rules compare (by each attribute's kind)."""
    if stored is None:
        return None

    def typed(name: str, value: Any) -> Any:
        if value is None:
            return None
        kind = attribute_kind(name, name)
        if kind is Kind.INSTANT:
            return datetime.fromisoformat(value)
        if kind is Kind.NUMBER:
            return Decimal(value)
        if kind is Kind.TAGS:
            return frozenset(value)
        return value

    return {name: typed(name, value) for name, value in stored.items()}


def _event_topics(kind: type[Aggregate], *names: str) -> list[str]:
    """The topics of an aggregate's event classes (all of them when no names are given)."""
    classes = [
        value
        for name, value in vars(kind).items()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and (not names or name in names)
    ]
    return [get_topic(event_class) for event_class in classes]


PROFILE_TOPICS = frozenset(_event_topics(AudienceProfile))
DEFINED_TOPIC = get_topic(Segment.Defined)  # type: ignore[attr-defined]
ADDED_TOPIC = get_topic(Segment.MemberAdded)  # type: ignore[attr-defined]
SEGMENT_TOPICS = frozenset([DEFINED_TOPIC, *_event_topics(Segment, "MemberAdded", "MemberRemoved")])
TOPICS = sorted(PROFILE_TOPICS | SEGMENT_TOPICS)


@dataclass(frozen=True)
class Changes:
    """What one page of the notification log changes in the index."""

    profiles: list[ProfileRow]
    segments: list[SegmentRow]
    memberships: list[Membership]


@dataclass(frozen=True)
class _Page:
    after: int
    upto: int
    notifications: int
    changes: Changes


class IndexedAudience(Store):
    """Keeping the audience index current and reading a campaign's audience from it."""

    audience_index: AudienceIndex

    def catch_up_audience_index(self) -> int:
        """Apply the profile and membership events the index has not seen; how many."""
        applied = 0
        while page := self._next_audience_page():
            if self.audience_index.apply(page.after, page.upto, page.changes):
                applied += page.notifications
        return applied

    def _next_audience_page(self) -> _Page | None:
        after = self.audience_index.position()
        notifications = self.recorder.select_notifications(
            start=after,
            limit=PAGE,
            topics=TOPICS,
            inclusive_of_start=False,
        )
        if not notifications:
            return None
        segments, memberships = [], []
        for n in notifications:
            if n.topic not in SEGMENT_TOPICS:
                continue
            event: Any = self.mapper.to_domain_event(n)
            if n.topic == DEFINED_TOPIC:
                segments.append(SegmentRow(n.originator_id, event.rule))
            else:
                added = n.topic == ADDED_TOPIC
                memberships.append(Membership(n.originator_id, event.customer_id, added))
        customers = dict.fromkeys(
            n.originator_id for n in notifications if n.topic in PROFILE_TOPICS
        )
        profiles = [ProfileRow.of(profile) for profile in self._profiles(customers)]
        changes = Changes(profiles, segments, memberships)
        return _Page(after, notifications[-1].id, len(notifications), changes)

    def _profiles(self, customer_ids: Iterable[UUID]) -> Iterator[AudienceProfile]:
        for customer_id in customer_ids:
            profile = self.load_or_none(AudienceProfile, customer_id)
            if profile is not None:
                yield profile

    def materialize_audience(self, campaign: Campaign, now: datetime) -> Audience:
        """The segments' members, a dynamic segment's checked against its rule once more (time
        moves on: "purchased within 30 days" loses members without any event), then everyone
        without consent for the campaign's channel and purpose, unsubscribed or erased, left
        out: one query per segment over the index, caught up with the store first."""
        self.catch_up_audience_index()
        key = reach_key(CampaignChannel(campaign.channel).contact_channel, campaign.purpose)
        candidates: list[tuple[UUID, bool]] = []
        for segment_id in campaign.segment_ids:
            segment = self.audience_index.segment(segment_id)
            if segment is None:
                raise NotFound("segment", segment_id)
            rule = None if segment.rule is None else parse_rule(segment.rule)
            candidates.extend(
                (member.customer_id, member.reachable)
                for member in self.audience_index.members(
                    segment_id, key, attributes=rule is not None
                )
                # Nothing known of them (unknown or erased): a candidate, counted excluded.
                if rule is None or member.attributes is None or rule.holds(member.attributes, now)
            )
        return materialize(candidates)
