"""The audience index: who may be reached for what, and who is in which segment, as tables.

A launch to 100,000 people cannot load 100,000 profiles from the event store one by one. This
index keeps, per customer, the channel-and-purpose pairs they may receive (``domain.reach``: no
consent, an unsubscribe or an erasure take pairs out) and the facts dynamic segment rules read,
and the members of every segment; a launch reads a segment's members with their reachability in
one query.

It is a local projection of marketing's notification log (``crm_platform.projection``) in the
marketing database: the worker's loop keeps it current, and a launch catches it up before it
reads. A profile's row is the profile's state, a membership's the last change applied; each row
keeps the version it is of and only a newer one replaces it, so that a retried quarantine entry
never brings back an older state (a member who left stays as a row, ``member`` false, for that
reason). A profile the index cannot hold (a NUL in a fact, say) has the event that made it so
quarantined, and the index goes on with the next; once a later event corrects the profile, the
entry's retry finds the correction in place and resolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from psycopg.types.json import Jsonb

from crm_platform.projection import LocalProjection, topics_of
from crm_platform.quarantine import Entry

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
from ..domain.rules import Kind, attribute_kind, gains_members_with_time
from .common import SERVICE, Store, originator

PROJECTION = "marketing-audience"
PROFILES = "marketing_audience"
SEGMENTS = "marketing_segment_rules"
MEMBERS = "marketing_segment_members"
PAGE = 2000  # notifications applied per transaction

_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {PROFILES} (customer_id uuid PRIMARY KEY, reach text[] NOT NULL,"
    " attributes jsonb, version bigint NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {SEGMENTS} (segment_id uuid PRIMARY KEY, rule jsonb)",
    f"CREATE TABLE IF NOT EXISTS {MEMBERS} (segment_id uuid NOT NULL, customer_id uuid NOT NULL,"
    " member boolean NOT NULL, version bigint NOT NULL, PRIMARY KEY (segment_id, customer_id))",
    # Tables made before the index kept versions: the replay of the log rewrites their rows.
    f"ALTER TABLE {PROFILES} ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0",
    f"ALTER TABLE {MEMBERS} ADD COLUMN IF NOT EXISTS member boolean NOT NULL DEFAULT true,"
    " ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0",
)
_UPSERT_PROFILE = (
    f"INSERT INTO {PROFILES} AS a (customer_id, reach, attributes, version)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (customer_id) DO UPDATE"
    " SET reach = EXCLUDED.reach, attributes = EXCLUDED.attributes, version = EXCLUDED.version"
    " WHERE a.version <= EXCLUDED.version"
)
# A segment's rule never changes once defined.
_INSERT_SEGMENT = (
    f"INSERT INTO {SEGMENTS} (segment_id, rule) VALUES (%s, %s) ON CONFLICT (segment_id) DO NOTHING"
)
_UPSERT_MEMBERSHIP = (
    f"INSERT INTO {MEMBERS} AS m (segment_id, customer_id, member, version)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (segment_id, customer_id) DO UPDATE"
    " SET member = EXCLUDED.member, version = EXCLUDED.version WHERE m.version < EXCLUDED.version"
)
_MEMBERS = (
    "SELECT m.customer_id, coalesce(a.reach @> ARRAY[%s], false) AS reachable, {facts} AS facts"
    f" FROM {MEMBERS} m LEFT JOIN {PROFILES} a ON a.customer_id = m.customer_id"
    " WHERE m.segment_id = %s AND m.member"
)

# Everyone whose facts are known: the candidates of a rule that time alone makes hold.
_EVERYONE = (
    "SELECT customer_id, reach @> ARRAY[%s] AS reachable, attributes AS facts"
    f" FROM {PROFILES} WHERE attributes IS NOT NULL"
)

PROFILE_TOPICS = topics_of(AudienceProfile)
DEFINED_TOPIC = get_topic(Segment.Defined)  # type: ignore[attr-defined]
ADDED_TOPIC = get_topic(Segment.MemberAdded)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ProfileRow:
    customer_id: UUID
    reach: frozenset[str]  # reach_key of each channel and purpose the customer may receive
    attributes: Mapping[str, Any] | None  # what rules read; None once erased (matches none)
    version: int

    @classmethod
    def of(cls, profile: AudienceProfile) -> ProfileRow:
        attributes = None if profile.erased else profile.attributes()
        return cls(profile.id, reach(profile), attributes, profile.version)


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
    version: int  # the segment's, as of this change


@dataclass(frozen=True)
class Member:
    """A segment member as the index knows them; unknown customers come unreachable."""

    customer_id: UUID
    reachable: bool
    attributes: Mapping[str, Any] | None  # only when asked for (dynamic segments)


@dataclass(frozen=True)
class Changes:
    """What some notifications change in the index."""

    profiles: list[ProfileRow]
    segments: list[SegmentRow]
    memberships: list[Membership]


class AudienceIndex(LocalProjection[Changes]):
    """The index (see the module): ``loop()`` for the worker, ``catch_up()`` before a launch."""

    name = PROJECTION
    topics = (*PROFILE_TOPICS, *topics_of(Segment))

    def __init__(self, application: Store, *, batch_size: int = PAGE) -> None:
        super().__init__(application, service=SERVICE, batch_size=batch_size)
        self.store = application

    def create_schema(self, cursor: Any) -> None:
        for statement in _SCHEMA:
            cursor.execute(statement)

    def compute(self, notifications: Sequence[Notification]) -> Changes:
        """Profiles as they are now (a profile corrected since applies at once); segment rules
        and membership changes from their events, the last one of each membership kept."""
        segments: list[SegmentRow] = []
        memberships: dict[tuple[UUID, UUID], Membership] = {}
        customers: dict[UUID, None] = {}
        for n in notifications:
            if n.topic.startswith(PROFILE_TOPICS):
                customers[originator(n)] = None
                continue
            event: Any = self.application.mapper.to_domain_event(n)
            if n.topic == DEFINED_TOPIC:
                segments.append(SegmentRow(originator(n), event.rule))
            else:
                change = Membership(
                    originator(n), event.customer_id, n.topic == ADDED_TOPIC, n.originator_version
                )
                memberships[(change.segment_id, change.customer_id)] = change
        profiles = [ProfileRow.of(profile) for profile in self._profiles(customers)]
        return Changes(profiles, segments, list(memberships.values()))

    def compute_one(self, notification: Notification) -> Changes:
        """One notification alone (its batch failed, or a retry): a profile as of it, so that
        only the event that made the profile unfit is set aside, not the profile's earlier
        ones; nothing when the index holds a newer state already (a correction since)."""
        if not notification.topic.startswith(PROFILE_TOPICS):
            return self.compute([notification])
        customer_id, version = originator(notification), notification.originator_version
        if self._version_of(customer_id) >= version:
            return Changes([], [], [])
        profile: AudienceProfile = self.application.repository.get(customer_id, version=version)
        return Changes([ProfileRow.of(profile)], [], [])

    def retry(self, entry: Entry) -> bool:
        """Catch up first, so that a correction recorded since the entry is in the index."""
        self.catch_up()
        return super().retry(entry)

    def write(self, cursor: Any, changes: Changes) -> None:
        if changes.profiles:
            cursor.executemany(
                _UPSERT_PROFILE,
                [
                    (p.customer_id, sorted(p.reach), _encoded(p.attributes), p.version)
                    for p in changes.profiles
                ],
            )
        if changes.segments:
            cursor.executemany(
                _INSERT_SEGMENT, [(s.segment_id, _json(s.rule)) for s in changes.segments]
            )
        if changes.memberships:
            cursor.executemany(
                _UPSERT_MEMBERSHIP,
                [(m.segment_id, m.customer_id, m.member, m.version) for m in changes.memberships],
            )

    def reset(self, cursor: Any) -> None:
        cursor.execute(f"TRUNCATE {PROFILES}, {SEGMENTS}, {MEMBERS}")

    def segment(self, segment_id: UUID) -> SegmentRow | None:
        rows = self._fetch(f"SELECT rule FROM {SEGMENTS} WHERE segment_id = %s", (segment_id,))
        return SegmentRow(segment_id, rows[0]["rule"]) if rows else None

    def members(self, segment_id: UUID, reach: str, *, attributes: bool) -> list[Member]:
        """The segment's members, each reachable when their reach holds ``reach``."""
        facts = "a.attributes" if attributes else "NULL::jsonb"
        rows = self._fetch(_MEMBERS.format(facts=facts), (reach, segment_id))
        return [Member(r["customer_id"], r["reachable"], _decoded(r["facts"])) for r in rows]

    def facts(self) -> list[tuple[UUID, Mapping[str, Any]]]:
        """Every customer with known facts (not erased), with them."""
        rows = self._fetch(
            f"SELECT customer_id, attributes FROM {PROFILES} WHERE attributes IS NOT NULL", ()
        )
        return [(r["customer_id"], _decoded(r["attributes"]) or {}) for r in rows]

    def everyone(self, reach: str) -> list[Member]:
        """Every customer with known facts, reachable when their reach holds ``reach``."""
        rows = self._fetch(_EVERYONE, (reach,))
        return [Member(r["customer_id"], r["reachable"], _decoded(r["facts"])) for r in rows]

    def _profiles(self, customer_ids: Iterable[UUID]) -> Iterator[AudienceProfile]:
        for customer_id in customer_ids:
            profile = self.store.find(AudienceProfile, customer_id)
            if profile is not None:
                yield profile

    def _version_of(self, customer_id: UUID) -> int:
        rows = self._fetch(f"SELECT version FROM {PROFILES} WHERE customer_id = %s", (customer_id,))
        return int(rows[0]["version"]) if rows else 0

    def _fetch(self, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()


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
        if kind in (Kind.TAGS, Kind.ANNUAL):
            return frozenset(value)
        return value

    return {name: typed(name, value) for name, value in stored.items()}


class IndexedAudience(Store):
    """Reading a campaign's audience from the index, caught up with the store first."""

    @cached_property
    def audience_index(self) -> AudienceIndex:
        """The index in the marketing database, its tables made on first use (PostgreSQL only:
        under the unit tests' in-memory store there is none)."""
        index = AudienceIndex(self)
        index.create_tables()
        return index

    def catch_up_audience_index(self) -> int:
        """Apply what the index has not seen yet; how many notifications were read."""
        return self.audience_index.catch_up()

    def materialize_audience(self, campaign: Campaign, now: datetime) -> Audience:
        """The segments' members, a dynamic segment's checked against its rule once more (time
        moves on: "purchased within 30 days" loses members without any event), then everyone
        without consent for the campaign's channel and purpose, unsubscribed or erased, left
        out: one query per segment over the index, caught up with the store first. A rule time
        alone can make hold ("a family member's birthday within 7 days") is checked against
        everyone known: its members as of their last change may not include them yet."""
        self.catch_up_audience_index()
        key = reach_key(CampaignChannel(campaign.channel).contact_channel, campaign.purpose)
        candidates: list[tuple[UUID, bool]] = []
        for segment_id in campaign.segment_ids:
            segment = self.audience_index.segment(segment_id)
            if segment is None:
                raise NotFound("segment", segment_id)
            rule = None if segment.rule is None else parse_rule(segment.rule)
            members = (
                self.audience_index.everyone(key)
                if rule is not None and gains_members_with_time(rule)
                else self.audience_index.members(segment_id, key, attributes=rule is not None)
            )
            candidates.extend(
                (member.customer_id, member.reachable)
                for member in members
                # Nothing known of them (unknown or erased): a candidate, counted excluded.
                if rule is None or member.attributes is None or rule.holds(member.attributes, now)
            )
        return materialize(candidates)
