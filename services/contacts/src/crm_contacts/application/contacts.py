"""The contacts application: commands and queries on Customer aggregates."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from ..domain import (
    Customer,
    CustomerNotFound,
    IdempotencyKeyReused,
    Interaction,
    InteractionNotFound,
    VersionConflict,
)
from .views import CustomerView, Outcome

# A command without an expected version re-reads and retries when a concurrent writer won the
# race for the next version; with one, the lost race is the client's conflict to resolve.
WRITE_ATTEMPTS = 3


class ContactsApplication(Application[UUID]):
    name = "contacts"

    def register_customer(
        self,
        customer_id: UUID,
        *,
        given_name: str,
        family_name: str,
        email: str | None,
        phone: str | None,
        request_fingerprint: str,
    ) -> Outcome[CustomerView]:
        """Register once per id; a retry with the same request gets the first answer back."""
        registration = self._registration(customer_id)
        if registration is None:
            customer = Customer.register(
                customer_id,
                given_name=given_name,
                family_name=family_name,
                email=email,
                phone=phone,
                request_fingerprint=request_fingerprint,
            )
            try:
                self.save(customer)
                return Outcome(CustomerView.of(customer), replayed=False)
            except IntegrityError:  # a concurrent retry of the registration saved it first
                registration = self._registration(customer_id)
                assert registration is not None
        if registration.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(f"customer {customer_id} was registered by another request")
        return Outcome(CustomerView.of(registration), replayed=True)

    def record_contact(
        self,
        customer_id: UUID,
        *,
        expected_version: int | None,
        interaction_id: UUID,
        channel: str,
        direction: str,
        summary: str,
        actor: str,
        occurred_at: datetime,
        request_fingerprint: str,
    ) -> Outcome[Interaction]:
        for _ in range(WRITE_ATTEMPTS):
            customer = self._customer(customer_id)
            if (recorded := customer.interactions.get(interaction_id)) is not None:
                if recorded.request_fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused(f"interaction {interaction_id} differs")
                return Outcome(recorded, replayed=True)
            if expected_version is not None and expected_version != customer.version:
                raise VersionConflict(customer_id, expected_version, customer.version)
            customer.record_contact(
                interaction_id=interaction_id,
                channel=channel,
                direction=direction,
                summary=summary,
                actor=actor,
                occurred_at=occurred_at,
                request_fingerprint=request_fingerprint,
            )
            try:
                self.save(customer)
            except IntegrityError:
                continue  # re-read: a replay, a conflict, or a retry of an unconditional write
            return Outcome(customer.interactions[interaction_id], replayed=False)
        raise VersionConflict(customer_id, expected_version, self._customer(customer_id).version)

    def get_customer(self, customer_id: UUID) -> CustomerView:
        return CustomerView.of(self._customer(customer_id))

    def get_interaction(self, customer_id: UUID, interaction_id: UUID) -> Interaction:
        try:
            return self._customer(customer_id).interactions[interaction_id]
        except KeyError:
            raise InteractionNotFound(customer_id, interaction_id) from None

    def _customer(self, customer_id: UUID) -> Customer:
        try:
            return self.repository.get(customer_id)
        except AggregateNotFoundError:
            raise CustomerNotFound(customer_id) from None

    def _registration(self, customer_id: UUID) -> Customer | None:
        """The customer as first registered (a replay answers with the original response)."""
        try:
            return self.repository.get(customer_id, version=Customer.INITIAL_VERSION)
        except AggregateNotFoundError:
            return None
