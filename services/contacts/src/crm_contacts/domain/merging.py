"""Reversible merges of duplicate people, erasure of a person, and the view of merged records.

A merge links a duplicate to a survivor; it copies nothing. Both records record the link (one
``Merged`` event each, saved together); the duplicate then answers with a redirect to the
survivor and takes no command, and the survivor is shown with the duplicate's data combined into
its own (``combine``). Each person's data thus stays in that person's own events, sealed with that
person's key: erasing one never leaves their data behind in another's events, and an unmerge only
ends the link, which gives both records back exactly as they are, the survivor with everything
recorded on it meanwhile.

A record holding merged duplicates cannot itself be merged into another one (merges are one
level deep), so undoing any merge never has to untangle a chain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from .consent import ConsentDecision, in_force
from .contact_points import EmailAddress, PhoneNumber, PostalAddress
from .custom_fields import CustomValue
from .customer import Customer, MergeLink
from .errors import InvalidState, MergeNotFound, RuleViolation
from .profile import FamilyMember, ImportantDate, Preferences, Role
from .values import Interaction

T = TypeVar("T")


def merge(
    survivor: Customer,
    duplicate: Customer,
    *,
    merge_id: UUID,
    merged_at: datetime,
) -> None:
    """Merge ``duplicate`` into ``survivor``: both record the merge; a merge recorded under this
    id already is left as it is."""
    if merge_id in survivor.merges:
        return
    if duplicate.id == survivor.id:
        raise RuleViolation("duplicate_id", "a record cannot be merged into itself")
    survivor.ensure_active()
    if duplicate.erased_at is not None:
        raise InvalidState(f"customer {duplicate.id} was erased")
    if (other := duplicate.merged_into) is not None:
        raise InvalidState(f"customer {duplicate.id} is merged into {other} already")
    if duplicate.merged_duplicates:
        raise InvalidState(f"customer {duplicate.id} holds merged records: unmerge them first")
    for record in (survivor, duplicate):
        record._merged(
            merge_id=merge_id,
            survivor_id=survivor.id,
            duplicate_id=duplicate.id,
            merged_at=merged_at,
        )


def active_merge(survivor: Customer, merge_id: UUID) -> MergeLink | None:
    """The survivor's merge ``merge_id``; None when it was undone already (a retried unmerge)."""
    link = survivor.merges.get(merge_id)
    if link is None or link.survivor_id != survivor.id:
        raise MergeNotFound(survivor.id, merge_id)
    return link if link.active else None


def unmerge(survivor: Customer, duplicate: Customer, *, merge_id: UUID, at: datetime) -> None:
    """End the merge ``merge_id`` (in force) of ``duplicate`` into ``survivor``."""
    survivor.ensure_active()
    link = active_merge(survivor, merge_id)
    if link is None or link.duplicate_id != duplicate.id:
        raise InvalidState(f"merge {merge_id} is not in force")
    for record in (survivor, duplicate):
        record._unmerged(
            merge_id=merge_id, survivor_id=survivor.id, duplicate_id=duplicate.id, unmerged_at=at
        )


def erase(person: Customer, duplicates: Iterable[Customer], *, at: datetime) -> None:
    """Record the erasure of a person and of the duplicates merged into them (the same person).

    Their keys must be destroyed first: the events recorded here say it was done.
    """
    person.ensure_active()
    for record in (person, *duplicates):
        record._erased(erased_at=at)


# --- the combined view of a survivor and its merged duplicates --------------------------------


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """An entry shown for a person, and the record that holds it."""

    record_id: UUID
    item: T


@dataclass(frozen=True)
class CombinedPerson:
    """A person as shown: the survivor's data, then what its merged duplicates add.

    Lists are unions (entries repeated across records shown once, the survivor's first; only the
    survivor's primary contact points stay primary); names and single-valued settings are the
    survivor's, the duplicates' filling what it leaves unset; consent in force is the latest
    decision over all the records.
    """

    given_name: str | None
    family_name: str | None
    emails: tuple[Sourced[EmailAddress], ...]
    phones: tuple[Sourced[PhoneNumber], ...]
    addresses: tuple[Sourced[PostalAddress], ...]
    roles: tuple[Sourced[Role], ...]
    family_members: tuple[Sourced[FamilyMember], ...]
    important_dates: tuple[Sourced[ImportantDate], ...]
    preferences: Preferences
    tags: tuple[str, ...]
    custom_fields: dict[str, CustomValue]
    interactions: tuple[Sourced[Interaction], ...]
    consent_history: tuple[Sourced[ConsentDecision], ...]
    consents_in_force: tuple[Sourced[ConsentDecision], ...]


def combine(survivor: Customer, duplicates: Sequence[Customer] = ()) -> CombinedPerson:
    records = (survivor, *duplicates)
    profiles = [(r.id, r.profile) for r in records]
    decisions = [Sourced(r.id, d) for r in records for d in r.consents]
    return CombinedPerson(
        given_name=survivor.profile.given_name,
        family_name=survivor.profile.family_name,
        emails=_contact_points([(i, p.emails) for i, p in profiles]),
        phones=_contact_points([(i, p.phones) for i, p in profiles]),
        addresses=_contact_points([(i, p.addresses) for i, p in profiles]),
        roles=_union([(i, p.roles) for i, p in profiles], lambda role: role),
        family_members=_union([(i, p.family_members) for i, p in profiles], lambda m: m),
        important_dates=_union([(i, p.important_dates) for i, p in profiles], lambda d: d),
        preferences=_preferences([p.preferences for _, p in profiles]),
        tags=tuple(sorted({tag for _, p in profiles for tag in p.tags})),
        custom_fields=_first_wins([p.custom_fields for _, p in profiles]),
        interactions=tuple(
            sorted(
                (Sourced(r.id, i) for r in records for i in r.interactions.values()),
                key=lambda s: (s.item.occurred_at, s.item.interaction_id),
            )
        ),
        consent_history=tuple(
            sorted(decisions, key=lambda s: (s.item.decided_at, s.item.decision_id))
        ),
        consents_in_force=tuple(in_force(decisions, lambda s: s.item)),
    )


def _union(
    lists: Sequence[tuple[UUID, Sequence[T]]], identity: Callable[[T], Hashable]
) -> tuple[Sourced[T], ...]:
    seen: dict[Hashable, Sourced[T]] = {}
    for record_id, items in lists:
        for item in items:
            seen.setdefault(identity(item), Sourced(record_id, item))
    return tuple(seen.values())


def _contact_points(lists: Sequence[tuple[UUID, Sequence[T]]]) -> tuple[Sourced[T], ...]:
    """The union; the primary entry is that of the first record having any."""
    owner = next((record_id for record_id, items in lists if items), None)
    return tuple(
        s if s.record_id == owner else Sourced(s.record_id, _not_primary(s.item))
        for s in _union(lists, lambda point: point.identity)  # type: ignore[attr-defined]
    )


def _not_primary(point: T) -> T:
    return dataclasses.replace(point, primary=False)  # type: ignore[type-var]


def _preferences(all_preferences: Sequence[Preferences]) -> Preferences:
    def first(name: str) -> object:
        return next((getattr(p, name) for p in all_preferences if getattr(p, name)), None)

    return Preferences(
        language=first("language"),  # type: ignore[arg-type]
        preferred_channel=first("preferred_channel"),  # type: ignore[arg-type]
        contact_hours=first("contact_hours"),  # type: ignore[arg-type]
        other=_first_wins([p.other for p in all_preferences]),
    )


def _first_wins(mappings: Sequence[Mapping[str, T]]) -> dict[str, T]:
    combined: dict[str, T] = {}
    for mapping in reversed(mappings):
        combined.update(mapping)
    return dict(sorted(combined.items()))
