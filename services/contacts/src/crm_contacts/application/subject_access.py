"""A person's subject-access request, answered by every service and assembled here.

``SubjectAccess.request`` records the request on the person's ``SubjectAccessFile`` (a command of
the platform's pipeline: a retry answers the same request id); the relay publishes it as
``SubjectAccessRequested``. The worker records each part of every service's answer exactly once,
with the position of its message (``record_answer``). ``status`` shows which services answered
and which are awaited, and, once all answered or the deadline passed, the assembled export:
contacts' own part (the person's records and their history) and each service's document, the
services that did not answer named. The person's erasure destroys the file's key (``forget``):
the stored answers go blind. Settings: ``CRM_CONTACTS_SUBJECT_ACCESS_*``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_events.subject_access import ANSWERING_SERVICES, SubjectAccessAnswered, join_parts
from crm_platform.commands import WRITE_ATTEMPTS, Command, Outcome

from ..domain import Customer, CustomerMerged, RecordNotFound
from ..domain.subject_access import AccessRequest, Document, State, SubjectAccessFile
from .views import PersonExport

if TYPE_CHECKING:
    from .contacts import ContactsApplication

log = logging.getLogger(__name__)
REQUEST_ID_NAMESPACE = uuid.UUID("6b0e4f27-93c5-4a1d-8e72-d5a9c3f18b46")
KIND = "subject-access request"


class SubjectAccessSettings(BaseSettings):
    """Who must answer, and by when (``CRM_CONTACTS_SUBJECT_ACCESS_*``)."""

    model_config = SettingsConfigDict(env_prefix="CRM_CONTACTS_SUBJECT_ACCESS_", extra="ignore")

    # A JSON list, e.g. '["sales", "marketing"]': the services whose answers a request awaits.
    services: list[str] = Field(default=list(ANSWERING_SERVICES))
    # GDPR allows a month; the services answer in seconds unless one is down.
    deadline_seconds: float = Field(default=3600, gt=0)

    @field_validator("services")
    @classmethod
    def _answering(cls, services: list[str]) -> list[str]:
        unknown = sorted(set(services) - set(ANSWERING_SERVICES))
        if unknown:
            raise ValueError(f"{unknown} answer no subject-access request ({ANSWERING_SERVICES})")
        return list(dict.fromkeys(services))

    @property
    def deadline(self) -> timedelta:
        return timedelta(seconds=self.deadline_seconds)


@dataclass(frozen=True)
class SubjectAccessStatus:
    """Where a request stands and, once complete or timed out, the assembled export."""

    customer_id: UUID
    request: AccessRequest
    state: State
    due_by: datetime
    contacts: PersonExport | None  # contacts' own part, with the export
    parts: dict[str, Document] | None  # each answering service's document, with the export


class SubjectAccess:
    def __init__(
        self, application: ContactsApplication, settings: SubjectAccessSettings | None = None
    ) -> None:
        self.application = application
        self.settings = settings or SubjectAccessSettings()

    def request(self, customer_id: UUID, command: Command) -> Outcome[AccessRequest]:
        """Record a request for the person's data (merged ones: ``CustomerMerged``); its id
        derives from the command, so a retry is answered with the same request."""
        self._person(customer_id)
        request_id = uuid.uuid5(REQUEST_ID_NAMESPACE, str(command.command_id))
        expected = self.settings.services

        def record(file: SubjectAccessFile) -> None:
            file.request(request_id, datetime.now(UTC), expected)

        outcome = self.application.execute(command, KIND, lambda: self._file(customer_id), record)
        return Outcome(outcome.value.requests[request_id], outcome.replayed)

    def record_answer(self, position: Tracking, answered: SubjectAccessAnswered) -> bool:
        """Record one part of a service's answer with its message's position; False when the
        position was processed already. A part recorded before records only the position."""
        file_id = SubjectAccessFile.create_id(answered.customer_id)
        # An erased person's file keeps no data (their key is gone), whatever a late answer says.
        keep = answered.held and not self.application.personal_data_keys.is_destroyed(file_id)
        for _ in range(WRITE_ATTEMPTS):
            file = self.application.find(SubjectAccessFile, file_id)
            if file is None:
                log.warning(
                    "%s answered an unknown request %s", answered.service, answered.request_id
                )
                return self.application.record_reaction(position)
            file.answer(
                answered.request_id,
                answered.service,
                part=answered.part,
                parts=answered.parts,
                held=answered.held,
                document=answered.document if keep else None,
                answered_at=answered.answered_at,
            )
            try:
                return self.application.record_reaction(position, file)
            except IntegrityError:
                continue  # another part was recorded meanwhile: again, on the new version
        raise IntegrityError(f"the subject-access file of {answered.customer_id} keeps changing")

    def status(self, customer_id: UUID, request_id: UUID) -> SubjectAccessStatus:
        file = self.application.find(SubjectAccessFile, SubjectAccessFile.create_id(customer_id))
        request = None if file is None else file.requests.get(request_id)
        if request is None:
            raise RecordNotFound(KIND, request_id)
        deadline = self.settings.deadline
        state = request.state(datetime.now(UTC), deadline)
        ready = state != "waiting"
        return SubjectAccessStatus(
            customer_id=customer_id,
            request=request,
            state=state,
            due_by=request.due_by(deadline),
            contacts=self.application.export_customer(customer_id) if ready else None,
            parts=_documents(request) if ready else None,
        )

    def forget(self, customer_id: UUID) -> None:
        """The person was erased: every answer stored for them goes blind. Idempotent."""
        self.application.personal_data_keys.destroy(SubjectAccessFile.create_id(customer_id))

    def _person(self, customer_id: UUID) -> Customer:
        customer = self.application.load("customer", Customer, customer_id)
        if customer.erased_at is None and customer.merged_into is not None:
            raise CustomerMerged(customer.id, customer.merged_into)
        return customer

    def _file(self, customer_id: UUID) -> SubjectAccessFile:
        found = self.application.find(SubjectAccessFile, SubjectAccessFile.create_id(customer_id))
        return found or SubjectAccessFile(customer_id=customer_id)


def _documents(request: AccessRequest) -> dict[str, Document]:
    """Each complete answer's document, its parts joined in order (an erased one is empty)."""
    return {
        service: join_parts([answer.documents[n] or {} for n in sorted(answer.documents)])
        for service, answer in request.answers.items()
        if answer.complete
    }
