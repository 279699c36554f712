"""Commands and queries on people: profile, interactions, consent, merges, export and erasure."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from crm_platform.commands import Command, Outcome

from ..domain import (
    Customer,
    CustomerErased,
    CustomerMerged,
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
from ..domain.custom_fields import typed_values
from .custom_fields import CustomFieldCommands
from .erasure import ErasureTracking
from .views import (
    ConsentsView,
    CustomerView,
    Erasure,
    HistoryEntry,
    MergeView,
    PersonExport,
    RecordExport,
)

# Attributes of a stored event that are the store's bookkeeping, not data about the person.
_BOOKKEEPING = {"originator_id", "originator_version", "timestamp", "originator_topic"}


class PeopleCommands(CustomFieldCommands, ErasureTracking):
    """Every command on a person runs on the platform's pipeline (``CommandRunner``): a retry
    finds the command's receipt and is answered with the person as that command left them."""

    # --- registration and profile -------------------------------------------------------------

    def register_customer(
        self, command: Command, customer_id: UUID, *, profile: Mapping[str, Any]
    ) -> Outcome[CustomerView]:
        """Register once per id (derived from the command's key): a retry gets the first answer."""
        outcome = self.create(
            command,
            "customer",
            lambda: [self.new_customer(customer_id, profile=profile)],
            made_before=lambda: self.find(Customer, customer_id),
        )
        if outcome.replayed:
            self._live_customer(customer_id)  # an erased person's first answer is gone with them
        return Outcome(self._view(outcome.value), outcome.replayed)

    def new_customer(
        self,
        customer_id: UUID,
        *,
        profile: Mapping[str, Any],
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
            origin=origin,
            lead_id=lead_id,
        )
        self._check_roles(customer.profile, known=registered_with)
        return customer

    def update_customer(
        self, customer_id: UUID, command: Command, *, patch: Mapping[str, Any]
    ) -> Outcome[CustomerView]:
        """Change the person's own profile by a JSON Merge Patch (RFC 7396)."""
        definitions = self.custom_field_definitions(RecordKind.PERSON)

        def update(customer: Customer) -> None:
            if "roles" in customer.update_profile(patch=patch, definitions=definitions):
                self._check_roles(customer.profile)

        outcome = self._change(customer_id, command, update)
        return Outcome(self._view(outcome.value), outcome.replayed)

    def get_customer(self, customer_id: UUID) -> CustomerView:
        customer = self._customer(customer_id)
        customer.ensure_active()
        return self._view(customer)

    # --- interactions and consent: each under its command's id ------------------------------

    def record_contact(
        self, customer_id: UUID, command: Command, **interaction: Any
    ) -> Outcome[Customer]:
        """Record an interaction (``Customer.record_contact`` names its fields)."""
        return self._change(
            customer_id,
            command,
            lambda c: c.record_contact(interaction_id=command.command_id, **interaction),
        )

    def record_consent(
        self, customer_id: UUID, command: Command, **decision: Any
    ) -> Outcome[Customer]:
        """Record a consent decision (``Customer.record_consent`` names its fields)."""
        return self._change(
            customer_id,
            command,
            lambda c: c.record_consent(decision_id=command.command_id, **decision),
        )

    def get_interaction(self, customer_id: UUID, interaction_id: UUID) -> Sourced[Interaction]:
        """One interaction shown for the person (theirs or a merged duplicate's)."""
        for sourced in self.get_customer(customer_id).person.interactions:
            if sourced.item.interaction_id == interaction_id:
                return sourced
        raise InteractionNotFound(customer_id, interaction_id)

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
        command: Command,
        *,
        duplicate_id: UUID,
        duplicate_expected_version: int | None,
    ) -> Outcome[MergeView]:
        """Merge the duplicate into the survivor (both record it, in one transaction), under the
        command's id."""

        def merge_duplicate(survivor: Customer) -> list[Customer]:
            duplicate = self.find(Customer, duplicate_id)
            if duplicate is None:
                raise RuleViolation("duplicate_id", "no such customer")
            expected = duplicate_expected_version
            if expected is not None and expected != duplicate.version:
                raise VersionConflict(duplicate_id, expected, duplicate.version, kind="customer")
            merge(survivor, duplicate, merge_id=command.command_id, merged_at=datetime.now(UTC))
            return [duplicate]

        outcome = self._change(survivor_id, command, merge_duplicate)
        return Outcome(MergeView.of(outcome.value, command.command_id), outcome.replayed)

    def unmerge_customers(
        self, survivor_id: UUID, merge_id: UUID, command: Command
    ) -> Outcome[MergeView]:
        """Undo a merge; undoing one undone already changes nothing (idempotent)."""

        def undo(survivor: Customer) -> list[Customer]:
            if active_merge(survivor, merge_id) is None:
                return []
            duplicate = self._customer(survivor.merges[merge_id].duplicate_id)
            unmerge(survivor, duplicate, merge_id=merge_id, at=datetime.now(UTC))
            return [duplicate]

        outcome = self._change(survivor_id, command, undo)
        return Outcome(MergeView.of(outcome.value, merge_id), outcome.replayed)

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

    def erase_customer(self, customer_id: UUID, command: Command) -> Outcome[Erasure]:
        """Erase the person (and the duplicates merged into them) by destroying their keys, and
        start following the services' confirmations of each erased record.

        The keys go first: if saving the record of it fails, the data is unreadable already and
        a retry completes the record. Erasing an erased person changes nothing.
        """

        def erase_records(customer: Customer) -> list[Aggregate]:
            if customer.erased_at is not None:
                return []
            customer.ensure_active()
            duplicates = self._duplicates(customer)
            records = (customer, *duplicates)
            for record in records:
                self.personal_data_keys.destroy(record.id)
            at = datetime.now(UTC)
            erase(customer, duplicates, at=at)
            # Each erased record's confirmations are followed from now on (application.erasure).
            return [*duplicates, *self.open_erasure_progress([r.id for r in records], at)]

        outcome = self.execute(
            command, "customer", lambda: self._customer(customer_id), erase_records
        )
        customer = outcome.value
        assert customer.erased_at is not None
        erased = (customer.id, *(m.duplicate_id for m in customer.merged_duplicates))
        erasure = Erasure(customer.id, customer.erased_at, erased, customer.version)
        return Outcome(erasure, outcome.replayed)

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
            if isinstance(event, Aggregate.Event)  # every event of a record is
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
            custom_fields=typed_values(
                record.profile.custom_fields, self.custom_field_definitions(RecordKind.PERSON)
            ),
        )

    # --- loading ------------------------------------------------------------------------------

    def _change(
        self,
        customer_id: UUID,
        command: Command,
        change: Callable[[Customer], Sequence[Aggregate] | None],
    ) -> Outcome[Customer]:
        """Run ``change`` on the person (unless erased) as ``command``; the person it left."""
        return self.execute(command, "customer", lambda: self._live_customer(customer_id), change)

    def _customer(self, customer_id: UUID) -> Customer:
        return self.load("customer", Customer, customer_id)

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
        definitions = self.custom_field_definitions(RecordKind.PERSON)
        return CustomerView.of(customer, self._duplicates(customer), definitions)

    def _check_roles(self, profile: PersonProfile, known: Collection[UUID] = ()) -> None:
        for index, role in enumerate(profile.roles):
            if role.organization_id in known or self.find(Organization, role.organization_id):
                continue
            raise RuleViolation(f"roles.{index}.organization_id", "no such organization")
