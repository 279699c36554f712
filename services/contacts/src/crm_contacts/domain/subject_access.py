"""A person's subject-access requests (GDPR art. 15) and every service's answer to each.

One ``SubjectAccessFile`` per person holds all their requests. A request names the services
expected to answer; each answer arrives in numbered parts (``crm_events.subject_access``), each
part recorded once, so a redelivered or republished answer changes nothing. A service has
answered once all its parts are in. The answers' documents are the person's data: personal data of
the file, sealed with the file's own key (derived from the person's id), which the person's
erasure destroys, so every stored answer goes blind with the rest of their data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.personal_data import personal_data

NAMESPACE = uuid.UUID("d3b7a2c9-4e61-4f08-b5a1-7c9e2f0d8a34")
# A service's records by kind, as it answered them (``crm_events.subject_access.Sections``).
Document = dict[str, list[dict[str, Any]]]
State = Literal["waiting", "complete", "timed_out"]


@dataclass
class ServiceAnswer:
    """What a service answered so far: its parts by number (None once the file's key is gone)."""

    parts: int
    held: bool
    answered_at: datetime
    documents: dict[int, Document | None] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.documents) == self.parts


@dataclass
class AccessRequest:
    request_id: UUID
    requested_at: datetime
    expected: tuple[str, ...]
    answers: dict[str, ServiceAnswer] = field(default_factory=dict)

    def answered(self, service: str) -> bool:
        answer = self.answers.get(service)
        return answer is not None and answer.complete

    @property
    def waiting_for(self) -> list[str]:
        """The expected services whose answer is not complete, in the order expected."""
        return [service for service in self.expected if not self.answered(service)]

    def due_by(self, deadline: timedelta) -> datetime:
        return self.requested_at + deadline

    def state(self, now: datetime, deadline: timedelta) -> State:
        """complete: every expected service answered; timed_out: not, and past due; waiting."""
        if not self.waiting_for:
            return "complete"
        return "timed_out" if now > self.due_by(deadline) else "waiting"


class SubjectAccessFile(Aggregate):
    @staticmethod
    def create_id(customer_id: UUID) -> UUID:
        return uuid.uuid5(NAMESPACE, str(customer_id))

    @event("Opened")
    def __init__(self, customer_id: UUID) -> None:
        self.customer_id = customer_id
        self.requests: dict[UUID, AccessRequest] = {}

    def request(self, request_id: UUID, requested_at: datetime, expected: list[str]) -> bool:
        """Record the request; False when it was recorded before."""
        if request_id in self.requests:
            return False
        self._requested(
            request_id=request_id,
            customer_id=self.customer_id,  # for the published event, which names the person
            requested_at=requested_at,
            expected=expected,
        )
        return True

    @event("Requested")
    def _requested(
        self, request_id: UUID, customer_id: UUID, requested_at: datetime, expected: list[str]
    ) -> None:
        self.requests[request_id] = AccessRequest(request_id, requested_at, tuple(expected))

    def answer(
        self,
        request_id: UUID,
        service: str,
        *,
        part: int,
        parts: int,
        held: bool,
        document: Document | None,
        answered_at: datetime,
    ) -> bool:
        """Record one part of ``service``'s answer; False for a request not of this file or a
        part recorded before. A service not expected is recorded too, but completes nothing."""
        request = self.requests.get(request_id)
        if request is None:
            return False
        known = request.answers.get(service)
        if known is not None and part in known.documents:
            return False
        self._answered(
            request_id=request_id,
            service=service,
            part=part,
            parts=parts,
            held=held,
            document=document,
            answered_at=answered_at,
        )
        return True

    @event("Answered")
    def _answered(
        self,
        request_id: UUID,
        service: str,
        part: int,
        parts: int,
        held: bool,
        document: Document | None,
        answered_at: datetime,
    ) -> None:
        answers = self.requests[request_id].answers
        answer = answers.setdefault(service, ServiceAnswer(parts, held, answered_at))
        answer.documents[part] = document
        answer.answered_at = max(answer.answered_at, answered_at)


personal_data(SubjectAccessFile.Answered, "document")  # type: ignore[attr-defined]
