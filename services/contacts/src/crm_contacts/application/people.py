"""Commands and queries on people: profile, interactions, consent, merges, export and erasure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ..domain import (
    ConsentDecision,
    Customer,
    CustomerErased,
    CustomerMerged,
    CustomerNotFound,
    Interaction,
    InteractionNotFound,
    MergeNotFound,
    Organization,
    Origin,
    PersonProfile,
    RecordKind,
    RuleViolation,
    Sourced,
    VersionConflict,
    active_merge,
    erase,
    merge,
    unmerge,
)
from ..domain.codec import to_json
from .commands import CommandRunner, by_command
from .views import (
    ConsentsView,
    CustomerView,
    Erasure,
    HistoryEntry,
    MergeView,
    Outcome,
    PersonExport,
    RecordExport,
)

# Attributes of a stored event that are bookkeeping (the store's, and the hash of a request
# used to tell retries apart), not data about the person.
_BOOKKEEPING = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "request_fingerprint",
}


class PeopleCommands(CommandRunner):
    # --- registration and profile -------------------------------------------------------------

    def register_customer(
        self,
        customer_id: UUID,
        *,
        profile: Mapping[str, Any],
        request_fingerprint: str,
    ) -> Outcome[CustomerView]:
        """Register once per id; a retry with the same request gets the first answer back."""
        registration, replayed = self._register(
            Customer,
            customer_id,
            lambda: self.new_customer(
                customer_id, profile=profile, request_fingerprint=request_fingerprint
            ),
            request_fingerprint,
        )
        if replayed:
            self._live_customer(customer_id)  # an erased person's first answer is gone with them
        return Outcome(CustomerView.of(registration), replayed)

    def new_customer(
        self,
        customer_id: UUID,
        *,
        profile: Mapping[str, Any],
        request_fingerprint: str,
        origin: Origin = Origin.API,
        lead_id: UUID | None = None,
        registered_with: Collection[UUID] = (),
    ) -> Customer:
        """A person to save (alone, or with other changes): validated, with roles at known
        organizations (or at those ``registered_with`` them in the same transaction)."""
        customer = Customer.register(
            customer_id,
            profile=profile,
            definitions=self.custom_field_definitions(RecordKind.PERSON),
            request_fingerprint=request_fingerprint,
            origin=origin,
            lead_id=lead_id,
        )
        self._check_roles(customer.profile, known=registered_with)
        return customer

    def update_customer(
        self,
        customer_id: UUID,
        *,
        command_id: UUID,
        patch: Mapping[str, Any],
        expected_version: int | None,
        request_fingerprint: str,
    ) -> Outcome[CustomerView]:
        """Change the person's own profile by a JSON Merge Patch (RFC 7396)."""
        definitions = self.custom_field_definitions(RecordKind.PERSON)

        def decide(customer: Customer) -> None:
            changed = customer.update_profile(
                command_id=command_id,
                patch=patch,
                definitions=definitions,
                request_fingerprint=request_fingerprint,
            )
            if "roles" in changed:
                self._check_roles(customer.profile)

        customer, replayed = self._run(
            lambda: self._live_customer(customer_id),
            replayed=by_command(command_id, request_fingerprint),
            expected_version=expected_version,
            decide=decide,
        )
        return Outcome(self._view(customer), replayed)

    def get_customer(self, customer_id: UUID) -> CustomerView:
        customer = self._customer(customer_id)
        customer.ensure_active()
        return self._view(customer)

    # --- interactions and consent -------------------------------------------------------------

    def record_contact(
        self,
        customer_id: UUID,
        *,
        expected_version: int | None,
        interaction_id: UUID,
        request_fingerprint: str,
        **interaction: Any,
    ) -> Outcome[Interaction]:
        """Record an interaction (``Customer.record_contact`` names its fields)."""
        customer, replayed = self._run(
            lambda: self._live_customer(customer_id),
            replayed=by_command(interaction_id, request_fingerprint),
            expected_version=expected_version,
            decide=lambda c: c.record_contact(
                interaction_id=interaction_id,
                request_fingerprint=request_fingerprint,
                **interaction,
            ),
        )
        return Outcome(customer.interactions[interaction_id], replayed)

    def get_interaction(self, customer_id: UUID, interaction_id: UUID) -> Sourced[Interaction]:
        """One interaction shown for the person (theirs or a merged duplicate's)."""
        for sourced in self.get_customer(customer_id).person.interactions:
            if sourced.item.interaction_id == interaction_id:
                return sourced
        raise InteractionNotFound(customer_id, interaction_id)

    def record_consent(
        self,
        customer_id: UUID,
        *,
        expected_version: int | None,
        decision_id: UUID,
        request_fingerprint: str,
        **decision: Any,
    ) -> Outcome[ConsentDecision]:
        """Record a consent decision (``Customer.record_consent`` names its fields)."""
        customer, replayed = self._run(
            lambda: self._live_customer(customer_id),
            replayed=by_command(decision_id, request_fingerprint),
            expected_version=expected_version,
            decide=lambda c: c.record_consent(
                decision_id=decision_id, request_fingerprint=request_fingerprint, **decision
            ),
        )
        recorded = next(c for c in customer.consents if c.decision_id == decision_id)
        return Outcome(recorded, replayed)

    def get_consents(self, customer_id: UUID) -> ConsentsView:
        view = self.get_customer(customer_id)
        return ConsentsView(
            customer_id=view.id,
            version=view.version,
            in_force=view.person.consents_in_force,
            history=view.person.consent_history,
        )

    # --- merges -------------------------------------------------------------------------------

    def merge_customers(
        self,
        survivor_id: UUID,
        *,
        merge_id: UUID,
        duplicate_id: UUID,
        expected_version: int | None,
        duplicate_expected_version: int | None,
        request_fingerprint: str,
    ) -> Outcome[MergeView]:
        """Merge the duplicate into the survivor (both record it, in one transaction)."""

        def decide(survivor: Customer) -> list[Customer]:
            try:
                duplicate = self._customer(duplicate_id)
            except CustomerNotFound:
                raise RuleViolation("duplicate_id", "no such customer") from None
            expected = duplicate_expected_version
            if expected is not None and expected != duplicate.version:
                raise VersionConflict(duplicate_id, expected, duplicate.version)
            merge(
                survivor,
                duplicate,
                merge_id=merge_id,
                merged_at=datetime.now(UTC),
                request_fingerprint=request_fingerprint,
            )
            return [duplicate]

        survivor, replayed = self._run(
            lambda: self._live_customer(survivor_id),
            replayed=by_command(merge_id, request_fingerprint),
            expected_version=expected_version,
            decide=decide,
        )
        return Outcome(MergeView(survivor.merges[merge_id], survivor.version), replayed)

    def unmerge_customers(
        self, survivor_id: UUID, merge_id: UUID, *, expected_version: int | None
    ) -> Outcome[MergeView]:
        """Undo a merge; undoing one undone already answers as the first time (idempotent)."""

        def undone(survivor: Customer) -> int | None:
            return survivor.version if active_merge(survivor, merge_id) is None else None

        def decide(survivor: Customer) -> list[Customer]:
            duplicate = self._customer(survivor.merges[merge_id].duplicate_id)
            unmerge(survivor, duplicate, merge_id=merge_id, at=datetime.now(UTC))
            return [duplicate]

        survivor, replayed = self._run(
            lambda: self._live_customer(survivor_id),
            replayed=undone,
            expected_version=expected_version,
            decide=decide,
        )
        return Outcome(MergeView(survivor.merges[merge_id], survivor.version), replayed)

    def get_merges(self, customer_id: UUID) -> tuple[int, list[MergeView]]:
        """The version of the survivor and every merge into it, undone ones included."""
        customer = self._customer(customer_id)
        customer.ensure_active()
        links = [m for m in customer.merges.values() if m.survivor_id == customer.id]
        return customer.version, [MergeView(m, customer.version) for m in links]

    def get_merge(self, customer_id: UUID, merge_id: UUID) -> MergeView:
        _, merges = self.get_merges(customer_id)
        found = next((m for m in merges if m.link.merge_id == merge_id), None)
        if found is None:
            raise MergeNotFound(customer_id, merge_id)
        return found

    # --- GDPR -------------------------------------------------------------------------------

    def erase_customer(self, customer_id: UUID) -> Outcome[Erasure]:
        """Erase the person (and the duplicates merged into them) by destroying their keys, and
        start following the services' confirmations of each erased record.

        The keys go first: if saving the record of it fails, the data is unreadable already and
        a retry completes the record. Erasing an erased person answers as the first time.
        """

        def decide(customer: Customer) -> list[Aggregate]:
            customer.ensure_active()
            duplicates = self._duplicates(customer)
            records = (customer, *duplicates)
            for record in records:
                self.personal_data_keys.destroy(record.id)  # type: ignore[attr-defined]
            at = datetime.now(UTC)
            erase(customer, duplicates, at=at)
            ids = [record.id for record in records]
            # Each erased record's confirmations are followed from now on (application.erasure).
            return [*duplicates, *self.open_erasure_progress(ids, at)]  # type: ignore[attr-defined]

        customer, replayed = self._run(
            lambda: self._customer(customer_id),
            replayed=lambda c: None if c.erased_at is None else c.version,
            expected_version=None,
            decide=decide,
        )
        assert customer.erased_at is not None
        erased = (customer.id, *(m.duplicate_id for m in customer.merged_duplicates))
        return Outcome(Erasure(customer.id, customer.erased_at, erased), replayed)

    def export_customer(self, customer_id: UUID) -> PersonExport:
        """Everything held about the person, with the history of every record (GDPR art. 15)."""
        customer = self._customer(customer_id)
        if customer.erased_at is None and customer.merged_into is not None:
            raise CustomerMerged(customer.id, customer.merged_into)
        return PersonExport(
            customer_id=customer.id,
            exported_at=datetime.now(UTC),
            status="active" if customer.erased_at is None else "erased",
            erased_at=customer.erased_at,
            records=tuple(self._record_export(r) for r in (customer, *self._duplicates(customer))),
        )

    def _record_export(self, record: Customer) -> RecordExport:
        history = tuple(
            HistoryEntry(
                version=event.originator_version,
                type=type(event).__qualname__,
                recorded_at=event.timestamp,
                data={
                    name: to_json(value)
                    for name, value in vars(event).items()
                    if name not in _BOOKKEEPING
                },
            )
            for event in self.events.get(record.id)
        )
        return RecordExport(
            customer_id=record.id,
            registered_at=record.created_on,
            origin=record.origin,
            lead_id=record.lead_id,
            profile=record.profile,
            interactions=tuple(record.interactions.values()),
            consents=tuple(record.consents),
            merges=tuple(record.merges.values()),
            history=history,
        )

    # --- loading ------------------------------------------------------------------------------

    def _customer(self, customer_id: UUID) -> Customer:
        return self._get(customer_id, Customer, CustomerNotFound)

    def _live_customer(self, customer_id: UUID) -> Customer:
        """The person, unless erased (merged ones are refused by their commands, after a retry
        of a command they carried out before the merge is answered)."""
        customer = self._customer(customer_id)
        if customer.erased_at is not None:
            raise CustomerErased(customer.id, customer.erased_at)
        return customer

    def _duplicates(self, customer: Customer) -> list[Customer]:
        return [self._customer(m.duplicate_id) for m in customer.merged_duplicates]

    def _view(self, customer: Customer) -> CustomerView:
        return CustomerView.of(customer, self._duplicates(customer))

    def _check_roles(self, profile: PersonProfile, known: Collection[UUID] = ()) -> None:
        for index, role in enumerate(profile.roles):
            if role.organization_id in known or self._exists(role.organization_id, Organization):
                continue
            raise RuleViolation(f"roles.{index}.organization_id", "no such organization")
