"""Learning about customers from other services' events, exactly once per Kafka position.

Each reaction saves the customer's profile, the dynamic segments whose membership changed and
the message's tracking record in one transaction (``record_reaction``): a redelivered message
finds its position recorded and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking

from crm_platform.privacy import KeyStore

from ..domain import AudienceProfile
from .automation import AutomationCommands, Trigger
from .common import WRITE_ATTEMPTS, utcnow
from .engagement import EngagementCommands

ProfileChange = Callable[[AudienceProfile], bool]


class AudienceLearning(EngagementCommands, AutomationCommands):
    personal_data_keys: KeyStore  # the application's (a ``ShreddingApplication``)

    def profile(self, customer_id: UUID) -> AudienceProfile:
        return self.load("customer", AudienceProfile, customer_id)

    def learn(
        self,
        customer_id: UUID,
        position: Tracking,
        change: ProfileChange | None,
        trigger: Trigger | None = None,
    ) -> bool:
        """Apply ``change`` to the customer's profile (started on first mention), re-evaluate
        the dynamic segments and schedule the automated sends the event triggers (when it
        changed the profile, or is a pure trigger); False when the position was processed
        already."""
        for _ in range(WRITE_ATTEMPTS):
            now = utcnow()
            profile = self.find(AudienceProfile, customer_id)
            started = profile is None
            profile = profile or AudienceProfile(id=customer_id)
            applied = change is not None and change(profile)
            changed = applied or started
            segments = self.reevaluated_segments(profile, now) if changed else []
            # An event that changes nothing it names (a late copy of an older assessment, an
            # order already known) triggers nothing either.
            fresh = change is None or applied
            sends = self.triggered_sends(profile, trigger, now) if trigger and fresh else []
            try:
                return self.record_reaction(
                    position, *([profile] if changed else []), *segments, *sends
                )
            except IntegrityError:
                continue  # a segment or the profile moved on meanwhile: decide again
        raise IntegrityError(f"profile {customer_id} keeps changing under position {position}")

    def forget(self, customer_id: UUID, position: Tracking, erased_at: datetime) -> bool:
        """The customer was erased: marketing's key for them goes first (idempotent, so a
        crash before the reaction is recorded loses nothing), then the profile is marked
        erased and leaves every segment."""
        self.personal_data_keys.destroy(customer_id)
        return self.learn(customer_id, position, lambda profile: profile.erase(erased_at))
