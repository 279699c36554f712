"""The Customer aggregate: a person known to the business, and their dealings with it.

Retries of commands are answered by the application's command receipts, apart from these events
(``crm_platform.commands``); events stored before that carried the request's fingerprint and are
read without it (``WithoutRequestIds``).

Personal data (every profile section, interaction subjects and summaries, consent evidence) is
declared at the end of this module: it is sealed with the person's own key when stored, and comes
back as ``None`` once that key was destroyed. Event bodies therefore only assign such values or
decode them (``sections``, ``codec``), which reads ``None`` as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.commands import WithoutRequestIds
from crm_platform.personal_data import personal_data

from .codec import from_json, to_json
from .consent import (
    EVIDENCE_MAX_LENGTH,
    ConsentDecision,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    ContactChannel,
)
from .custom_fields import Definitions
from .errors import CustomerErased, CustomerMerged, RuleViolation
from .profile import PERSON, PERSON_SECTIONS, PersonProfile
from .values import (
    ACTOR_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    Channel,
    Direction,
    Interaction,
    RecordReference,
    member,
    optional_text,
    past_instant,
    required_text,
)


class Origin(StrEnum):
    """How the person became known: registered directly, converted from a lead, imported."""

    API = "api"
    LEAD = "lead"
    IMPORT = "import"


@dataclass(frozen=True)
class MergeLink:
    """A duplicate merged into a survivor; both records keep it, ``unmerged_at`` once undone."""

    merge_id: UUID
    survivor_id: UUID
    duplicate_id: UUID
    merged_at: datetime
    unmerged_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.unmerged_at is None


class Customer(Aggregate):
    # Declared so the library accepts ids chosen by the caller (derived from idempotency keys).
    id: UUID

    class Event(WithoutRequestIds, Aggregate.Event):
        """Events of version 1 carried the request's fingerprint and command id."""

    @classmethod
    def register(
        cls,
        customer_id: UUID,
        *,
        profile: Mapping[str, Any],
        definitions: Definitions,
        origin: Origin = Origin.API,
        lead_id: UUID | None = None,
    ) -> Customer:
        customer: Customer = cls(
            id=customer_id,
            **PERSON.initial(profile, definitions),
            origin=origin.value,
            lead_id=lead_id,
        )
        return customer

    @event("Registered")
    def __init__(
        self,
        given_name: str,
        family_name: str,
        emails: list[Any],
        phones: list[Any],
        addresses: list[Any],
        roles: list[Any],
        family_members: list[Any],
        important_dates: list[Any],
        preferences: dict[str, Any],
        tags: list[str],
        custom_fields: dict[str, Any],
        origin: str,
        lead_id: UUID | None,
    ) -> None:
        self.profile = PERSON.apply(
            PersonProfile(),
            {
                "given_name": given_name,
                "family_name": family_name,
                "emails": emails,
                "phones": phones,
                "addresses": addresses,
                "roles": roles,
                "family_members": family_members,
                "important_dates": important_dates,
                "preferences": preferences,
                "tags": tags,
                "custom_fields": custom_fields,
            },
        )
        self.origin = Origin(origin)
        self.lead_id = lead_id
        self.interactions: dict[UUID, Interaction] = {}
        self.consents: list[ConsentDecision] = []
        self.merges: dict[UUID, MergeLink] = {}
        self.erased_at: datetime | None = None

    # --- state -------------------------------------------------------------------------------

    @property
    def merged_into(self) -> UUID | None:
        """The survivor this record was merged into, while the merge stands."""
        return next(
            (m.survivor_id for m in self.merges.values() if m.active and m.duplicate_id == self.id),
            None,
        )

    @property
    def merged_duplicates(self) -> list[MergeLink]:
        """The merges in force in which this record is the survivor, oldest first."""
        return [m for m in self.merges.values() if m.active and m.survivor_id == self.id]

    def ensure_active(self) -> None:
        """Refuse to act on an erased record, or on one that another record now answers for."""
        if self.erased_at is not None:
            raise CustomerErased(self.id, self.erased_at)
        if (survivor := self.merged_into) is not None:
            raise CustomerMerged(self.id, survivor)

    # --- profile -----------------------------------------------------------------------------

    def update_profile(self, *, patch: Mapping[str, Any], definitions: Definitions) -> list[str]:
        """Apply a JSON Merge Patch to the profile; the sections that changed (none: no event)."""
        self.ensure_active()
        changes = PERSON.changes(self.profile, patch, definitions)
        if changes:
            self._profile_updated(changed=sorted(changes), changes=changes)
        return sorted(changes)

    @event("ProfileUpdated")
    def _profile_updated(self, changed: list[str], changes: dict[str, Any]) -> None:
        self.profile = PERSON.apply(self.profile, changes)

    # --- interactions ------------------------------------------------------------------------

    def record_contact(
        self,
        *,
        interaction_id: UUID,
        channel: str,
        direction: str,
        summary: str,
        actor: str,
        occurred_at: datetime,
        subject: str | None = None,
        related_to: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record an interaction; one recorded under this id already is left as it is."""
        self.ensure_active()
        if interaction_id in self.interactions:
            return
        reference = None
        if related_to is not None:
            try:
                reference = RecordReference.parse(related_to)
            except RuleViolation as violation:
                raise RuleViolation(f"related_to.{violation.field}", violation.detail) from None
        self._contacted(
            interaction_id=interaction_id,
            channel=member("channel", Channel, channel).value,
            direction=member("direction", Direction, direction).value,
            subject=optional_text("subject", subject, SUBJECT_MAX_LENGTH),
            summary=required_text("summary", summary, SUMMARY_MAX_LENGTH),
            actor=required_text("actor", actor, ACTOR_MAX_LENGTH),
            occurred_at=past_instant("occurred_at", occurred_at, now),
            related_to=to_json(reference),
        )

    @event("Contacted")
    def _contacted(
        self,
        interaction_id: UUID,
        channel: str,
        direction: str,
        subject: str | None,
        summary: str,
        actor: str,
        occurred_at: datetime,
        related_to: dict[str, str] | None,
    ) -> None:
        self.interactions[interaction_id] = Interaction(
            interaction_id=interaction_id,
            channel=Channel(channel),
            direction=Direction(direction),
            subject=subject,
            summary=summary,
            actor=actor,
            occurred_at=occurred_at,
            related_to=from_json(RecordReference | None, related_to),
            customer_version=self.version + 1,
        )

    # --- consent -----------------------------------------------------------------------------

    def record_consent(
        self,
        *,
        decision_id: UUID,
        channel: str,
        purpose: str,
        status: str,
        source: str,
        evidence: str | None,
        decided_at: datetime,
        now: datetime | None = None,
    ) -> None:
        """Record the person's decision on being contacted on a channel for a purpose; one
        recorded under this id already is left as it is."""
        self.ensure_active()
        if any(c.decision_id == decision_id for c in self.consents):
            return
        self._consent_decided(
            decision_id=decision_id,
            channel=member("channel", ContactChannel, channel).value,
            purpose=member("purpose", ConsentPurpose, purpose).value,
            status=member("status", ConsentStatus, status).value,
            source=member("source", ConsentSource, source).value,
            evidence=optional_text("evidence", evidence, EVIDENCE_MAX_LENGTH),
            decided_at=past_instant("decided_at", decided_at, now),
        )

    @event("ConsentDecided")
    def _consent_decided(
        self,
        decision_id: UUID,
        channel: str,
        purpose: str,
        status: str,
        source: str,
        evidence: str | None,
        decided_at: datetime,
    ) -> None:
        self.consents.append(
            ConsentDecision(
                decision_id=decision_id,
                channel=ContactChannel(channel),
                purpose=ConsentPurpose(purpose),
                status=ConsentStatus(status),
                decided_at=decided_at,
                source=ConsentSource(source),
                evidence=evidence,
                customer_version=self.version + 1,
            )
        )

    def consent(self, decision_id: UUID) -> ConsentDecision:
        """The decision recorded under this id (``KeyError`` if none)."""
        for decision in self.consents:
            if decision.decision_id == decision_id:
                return decision
        raise KeyError(decision_id)

    # --- merging (see ``merging``: a merge changes two records together) ---------------------

    @event("Merged")
    def _merged(
        self,
        merge_id: UUID,
        survivor_id: UUID,
        duplicate_id: UUID,
        merged_at: datetime,
    ) -> None:
        self.merges[merge_id] = MergeLink(merge_id, survivor_id, duplicate_id, merged_at)

    @event("Unmerged")
    def _unmerged(
        self, merge_id: UUID, survivor_id: UUID, duplicate_id: UUID, unmerged_at: datetime
    ) -> None:
        self.merges[merge_id] = replace(self.merges[merge_id], unmerged_at=unmerged_at)

    # --- erasure -----------------------------------------------------------------------------

    @event("Erased")
    def _erased(self, erased_at: datetime) -> None:
        """The key is destroyed already; forget the plaintext this object still holds."""
        self.erased_at = erased_at
        self.profile = PersonProfile()
        self.interactions = {
            i.interaction_id: replace(i, subject=None, summary=None)
            for i in self.interactions.values()
        }
        self.consents = [replace(c, evidence=None) for c in self.consents]


# What is personal data of the person (the aggregate): sealed with their key in the store.
personal_data(Customer.Registered, *PERSON_SECTIONS)  # type: ignore[attr-defined]
personal_data(Customer.ProfileUpdated, "changes")  # type: ignore[attr-defined]
personal_data(Customer.Contacted, "subject", "summary")  # type: ignore[attr-defined]
personal_data(Customer.ConsentDecided, "evidence")  # type: ignore[attr-defined]
