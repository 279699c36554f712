"""Following each erasure to its end: which services must confirm it, and their confirmations.

Erasing a person (``PeopleCommands.erase_customer``) opens an ``ErasureProgress`` per erased record
in the same transaction; the worker records each service's ``CustomerErasureConfirmed`` exactly
once, with the position of its message (``record_erasure_confirmation``); the API shows where an
erasure stands (``erasure_progress``). Settings: ``CRM_CONTACTS_ERASURE_*``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_events.erasure import CONFIRMING_SERVICES, CustomerErasureConfirmed
from crm_platform.commands import WRITE_ATTEMPTS, CommandRunner
from crm_platform.tracking import TrackingApplication

from ..domain import ErasureNotFound, ErasureProgress

log = logging.getLogger(__name__)


class ErasureSettings(BaseSettings):
    """Who must confirm an erasure, and by when (``CRM_CONTACTS_ERASURE_*``)."""

    model_config = SettingsConfigDict(env_prefix="CRM_CONTACTS_ERASURE_", extra="ignore")

    # A JSON list, e.g. '["contacts", "sales"]': services that publish erasure confirmations.
    services: list[str] = Field(default=list(CONFIRMING_SERVICES), min_length=1)
    deadline_seconds: float = Field(default=3600, gt=0)
    refresh_seconds: float = Field(default=15, gt=0)  # of the crm_erasures_* gauges

    @field_validator("services")
    @classmethod
    def _confirming(cls, services: list[str]) -> list[str]:
        unknown = sorted(set(services) - set(CONFIRMING_SERVICES))
        if unknown:
            raise ValueError(f"{unknown} publish no erasure confirmation ({CONFIRMING_SERVICES})")
        return list(dict.fromkeys(services))

    @property
    def deadline(self) -> timedelta:
        return timedelta(seconds=self.deadline_seconds)


class ErasureTracking(CommandRunner, TrackingApplication):
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.erasure_settings = ErasureSettings()

    def open_erasure_progress(
        self, customer_ids: Iterable[UUID], requested_at: datetime
    ) -> list[ErasureProgress]:
        """The progress records of an erasure of these records, to save with the erasure."""
        expected = self.erasure_settings.services
        return [
            ErasureProgress(customer_id=i, requested_at=requested_at, expected=expected)
            for i in customer_ids
        ]

    def record_erasure_confirmation(
        self, position: Tracking, confirmed: CustomerErasureConfirmed
    ) -> bool:
        """Record a service's confirmation with its message's position; False when the position
        was processed already. A repeated confirmation records only the position."""
        erased = [data.model_dump(mode="json") for data in confirmed.erased]
        for _ in range(WRITE_ATTEMPTS):
            progress = self._progress(confirmed.customer_id)
            if progress is None:
                # Erased before contacts tracked erasures, or another environment's person.
                log.warning(
                    "%s confirmed an erasure of %s that was not tracked",
                    confirmed.service,
                    confirmed.customer_id,
                )
                return self.record_reaction(position)
            progress.confirm(confirmed.service, confirmed.confirmed_at, erased)
            try:
                return self.record_reaction(position, progress)
            except IntegrityError:
                continue  # another service's confirmation was recorded meanwhile: again
        raise IntegrityError(f"the erasure of {confirmed.customer_id} keeps changing")

    def erasure_progress(self, customer_id: UUID) -> ErasureProgress:
        progress = self._progress(customer_id)
        if progress is None:
            raise ErasureNotFound(customer_id)
        return progress

    def _progress(self, customer_id: UUID) -> ErasureProgress | None:
        return self.find(ErasureProgress, ErasureProgress.create_id(customer_id))
