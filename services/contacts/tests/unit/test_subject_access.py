"""A person's subject-access request: the file of requests, the answers' parts, the API."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from fastapi.testclient import TestClient

from crm_contacts.application import ContactsApplication
from crm_contacts.application.subject_access import SubjectAccess, SubjectAccessSettings
from crm_contacts.contracts import translate
from crm_contacts.domain.subject_access import SubjectAccessFile
from crm_events.subject_access import ANSWERS, SubjectAccessRequested, split_document
from crm_platform.personal_data import personal_fields

from .conftest import ERASE, READ, WRITE, assert_problem, command, key

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 14, 13, 0, tzinfo=UTC)
SERVICES = ["sales", "marketing", "service-desk", "analytics"]
OFFSETS = itertools.count(1)
LEADS = {"lead": [{"id": "l1", "family_name": "Lovelace"}, {"id": "l2", "family_name": "King"}]}


def file_with_request() -> tuple[SubjectAccessFile, UUID]:
    file, request_id = SubjectAccessFile(customer_id=uuid4()), uuid4()
    assert file.request(request_id, T0, ["sales", "analytics"])
    return file, request_id


def answer(file: SubjectAccessFile, request_id: UUID, service: str, **overrides: Any) -> bool:
    part: dict[str, Any] = {
        "part": 1,
        "parts": 1,
        "held": True,
        "document": LEADS,
        "answered_at": T0 + timedelta(seconds=1),
        **overrides,
    }
    return file.answer(request_id, service, **part)


# --- the file ------------------------------------------------------------------------------------


def test_a_request_is_complete_once_every_expected_service_sent_every_part() -> None:
    file, request_id = file_with_request()
    request = file.requests[request_id]

    assert answer(file, request_id, "sales", part=2, parts=2)
    assert request.waiting_for == ["sales", "analytics"], "one part of two: not answered yet"
    assert answer(file, request_id, "sales", part=1, parts=2)
    assert answer(file, request_id, "analytics", held=False, document=None)

    assert request.waiting_for == []
    assert request.state(T0 + timedelta(days=9), timedelta(hours=1)) == "complete"


def test_a_part_recorded_before_or_of_another_request_changes_nothing() -> None:
    file, request_id = file_with_request()
    answer(file, request_id, "sales")
    version = file.version

    assert not answer(file, request_id, "sales", document={"lead": []})
    assert not answer(file, uuid4(), "sales")
    assert not file.request(request_id, T0, ["sales"])
    assert file.version == version
    assert file.requests[request_id].answers["sales"].documents == {1: LEADS}


def test_a_request_not_answered_by_its_deadline_times_out() -> None:
    file, request_id = file_with_request()
    request, hour = file.requests[request_id], timedelta(hours=1)

    assert request.state(T0 + hour, hour) == "waiting"
    assert request.state(T0 + hour + timedelta(seconds=1), hour) == "timed_out"


def test_the_answers_documents_are_personal_data_of_the_file() -> None:
    answered = SubjectAccessFile.Answered  # type: ignore[attr-defined]
    assert personal_fields(answered) == ("document",)


# --- the application -----------------------------------------------------------------------------


def a_person(client: TestClient) -> str:
    body = {"given_name": "Ada", "family_name": "Lovelace"}
    response = client.post("/customers", json=body, headers={**WRITE, **key()})
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["id"]
    return customer_id


def answered(
    request_id: str, customer_id: str, service: str, document: dict[str, Any], limit: int = 10**6
) -> list[Any]:
    """``service``'s answer, in as many parts as ``limit`` makes of it."""
    parts = split_document(document, limit)
    return [
        ANSWERS[service](
            request_id=UUID(request_id),
            customer_id=UUID(customer_id),
            service=service,
            held=bool(document),
            part=number,
            parts=len(parts),
            document=part,
            answered_at=datetime.now(UTC),
        )
        for number, part in enumerate(parts, 1)
    ]


def record(access: SubjectAccess, answers: list[Any]) -> None:
    for data in answers:  # each message a position of its own, as read from Kafka
        assert access.record_answer(Tracking("test|answers|0", next(OFFSETS)), data)


def test_a_request_is_answered_with_its_location_and_a_retry_answers_the_same(
    client: TestClient,
) -> None:
    customer_id, headers = a_person(client), {**WRITE, **key()}

    first = client.post(f"/customers/{customer_id}/subject-access", headers=headers)
    again = client.post(f"/customers/{customer_id}/subject-access", headers=headers)

    assert first.status_code == 202, first.text
    request_id = first.json()["request_id"]
    assert first.json()["expected"] == SERVICES
    assert first.headers["location"].endswith(
        f"/customers/{customer_id}/subject-access/{request_id}"
    )
    assert (again.status_code, again.json()) == (202, first.json())
    assert again.headers["idempotent-replayed"] == "true"


def test_a_request_shows_every_service_awaited_and_no_export_at_first(client: TestClient) -> None:
    customer_id = a_person(client)
    location = client.post(
        f"/customers/{customer_id}/subject-access", headers={**WRITE, **key()}
    ).headers["location"]

    status = client.get(location, headers=READ).json()

    assert status["state"] == "waiting" and status["export"] is None
    assert [(s["service"], s["state"]) for s in status["services"]] == [
        (s, "waiting") for s in SERVICES
    ]
    assert (status["answered"], status["missing"]) == (["contacts"], SERVICES)


def test_the_answers_are_assembled_into_one_export_naming_who_answered(
    client: TestClient, application: ContactsApplication
) -> None:
    customer_id = a_person(client)
    request_id = client.post(
        f"/customers/{customer_id}/subject-access", headers={**WRITE, **key()}
    ).json()["request_id"]
    access = SubjectAccess(application)
    # sales' answer in two parts (a small limit), marketing holds nothing; the rest answer.
    record(access, answered(request_id, customer_id, "sales", LEADS, limit=60))
    record(access, answered(request_id, customer_id, "marketing", {}))
    record(access, answered(request_id, customer_id, "service-desk", {"ticket": [{"id": "t"}]}))
    partial = client.get(f"/customers/{customer_id}/subject-access/{request_id}", headers=READ)
    record(access, answered(request_id, customer_id, "analytics", {"scores": [{"rfm": 5}]}))

    status = client.get(f"/customers/{customer_id}/subject-access/{request_id}", headers=READ)

    assert partial.json()["state"] == "waiting" and partial.json()["missing"] == ["analytics"]
    body = status.json()
    assert (body["state"], body["missing"]) == ("complete", [])
    assert body["answered"] == ["contacts", *SERVICES]
    held = {s["service"]: s["held"] for s in body["services"]}
    assert held == {"sales": True, "marketing": False, "service-desk": True, "analytics": True}
    export = body["export"]
    assert export["contacts"]["customer_id"] == customer_id
    assert export["contacts"]["records"][0]["profile"]["family_name"] == "Lovelace"
    assert export["services"] == {
        "sales": LEADS,
        "marketing": {},
        "service-desk": {"ticket": [{"id": "t"}]},
        "analytics": {"scores": [{"rfm": 5}]},
    }


def test_past_its_deadline_the_export_is_assembled_without_those_missing(
    application: ContactsApplication, client: TestClient
) -> None:
    customer_id = a_person(client)
    access = SubjectAccess(application, SubjectAccessSettings(deadline_seconds=0.05))
    asked = access.request(UUID(customer_id), command()).value
    record(access, answered(str(asked.request_id), customer_id, "sales", LEADS))
    time.sleep(0.1)

    status = access.status(UUID(customer_id), asked.request_id)

    assert status.state == "timed_out"
    assert status.request.waiting_for == ["marketing", "service-desk", "analytics"]
    assert status.parts == {"sales": LEADS} and status.contacts is not None


def test_an_erased_persons_answers_go_blind_and_later_ones_keep_nothing(
    client: TestClient, application: ContactsApplication
) -> None:
    customer_id = a_person(client)
    access = SubjectAccess(application)
    request_id = str(access.request(UUID(customer_id), command()).value.request_id)
    record(access, answered(request_id, customer_id, "sales", LEADS))
    assert client.post(f"/customers/{customer_id}/erasure", headers=ERASE).status_code == 200

    access.forget(UUID(customer_id))
    access.forget(UUID(customer_id))  # a redelivered erasure: nothing more to do
    record(access, answered(request_id, customer_id, "marketing", {"consent": [{"x": 1}]}))
    file = application.repository.get(SubjectAccessFile.create_id(UUID(customer_id)))

    answers = file.requests[UUID(request_id)].answers
    assert answers["sales"].documents == {1: None}
    assert answers["marketing"].documents == {1: None}
    again = client.post(f"/customers/{customer_id}/subject-access", headers={**WRITE, **key()})
    assert again.status_code == 202, "an erased person may still ask: they are told nothing"


def test_a_redelivered_answer_records_nothing_again(application: ContactsApplication) -> None:
    access = SubjectAccess(application)
    person = SubjectAccessFile(customer_id=uuid4())
    person.request(request_id := uuid4(), T0, SERVICES)
    application.save(person)
    data = answered(str(request_id), str(person.customer_id), "sales", LEADS)[0]

    assert access.record_answer(Tracking("test|a|0", 1), data)
    assert not access.record_answer(Tracking("test|a|0", 1), data), "the same position"
    assert access.record_answer(Tracking("test|a|0", 2), data), "republished: a new position"
    file = application.repository.get(person.id)
    assert file.version == person.version + 1, "the part was recorded once"


# --- refusals ------------------------------------------------------------------------------------


def test_a_stranger_or_another_persons_request_is_404(client: TestClient) -> None:
    response = client.post(f"/customers/{uuid4()}/subject-access", headers={**WRITE, **key()})
    assert_problem(response, 404)
    customer_id = a_person(client)
    assert_problem(
        client.get(f"/customers/{customer_id}/subject-access/{uuid4()}", headers=READ), 404
    )


def test_a_request_needs_an_idempotency_key_and_the_write_scope(client: TestClient) -> None:
    customer_id = a_person(client)

    missing_key = client.post(f"/customers/{customer_id}/subject-access", headers=WRITE)
    assert_problem(missing_key, 422, "header.Idempotency-Key")
    assert_problem(
        client.post(f"/customers/{customer_id}/subject-access", headers={**READ, **key()}), 403
    )


# --- the published request -----------------------------------------------------------------------


def test_the_request_is_published_with_ids_only() -> None:
    file, request_id = file_with_request()
    kind = SubjectAccessFile.Requested  # type: ignore[attr-defined]
    [requested] = [e for e in file.collect_events() if isinstance(e, kind)]

    [event] = translate(requested, None)

    assert isinstance(event.data, SubjectAccessRequested)
    assert event.data == SubjectAccessRequested(
        request_id=request_id, customer_id=file.customer_id, requested_at=T0
    )
    assert event.aggregateid == str(file.id)
