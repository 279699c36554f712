"""A service's answer to a subject-access request: its events, and what it finds to answer with."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from crm_events import build_event, registry
from crm_events.erasure import ErasedData, ErasureMethod
from crm_events.subject_access import (
    ANSWER_RETENTION_MS,
    ANSWER_TOPICS,
    ANSWERS,
    SubjectAccessRequested,
    answer_id,
    join_parts,
)
from crm_platform.erasure import confirm_erasure
from crm_platform.kafka import CONFIGURED, declared
from crm_platform.projection import topics_of
from crm_platform.subject_access import answers, created_about, erased_here, record

pytestmark = pytest.mark.unit

CUSTOMER = uuid.uuid4()
T0 = datetime(2025, 3, 14, 13, 0, tzinfo=UTC)


class Stage(StrEnum):
    OPEN = "open"


class Deal(Aggregate):
    @event("Opened")
    def __init__(self, customer_id: uuid.UUID, amount: Decimal) -> None:
        self.customer_id = customer_id
        self.amount = amount
        self.stage = Stage.OPEN
        self._cache = "not the person's business"


class Note(Aggregate):
    @event("Written")
    def __init__(self, customer_id: uuid.UUID) -> None:
        self.customer_id = customer_id


@pytest.fixture
def app() -> Application[uuid.UUID]:
    return Application({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def requested() -> object:
    data = SubjectAccessRequested(request_id=uuid.uuid4(), customer_id=CUSTOMER, requested_at=T0)
    return build_event(data, aggregate_id=uuid.uuid4(), actor="dpo@example.org")


def test_an_answer_is_one_event_per_part_keyed_by_the_request_with_derived_ids() -> None:
    request = requested()
    sections = {"lead": [{"n": "x" * 300}, {"n": "y" * 300}], "activity": []}

    events = answers(request, "sales", sections, limit=400)  # type: ignore[arg-type]

    request_id = request.data.request_id  # type: ignore[attr-defined]
    assert [e.id for e in events] == [answer_id(request_id, "sales", n) for n in (1, 2)]
    assert {e.aggregateid for e in events} == {str(request_id)}
    assert {(e.data.part, e.data.parts, e.data.held) for e in events} == {
        (1, 2, True),
        (2, 2, True),
    }
    assert join_parts([e.data.document for e in events]) == {"lead": sections["lead"]}
    assert {e.causationid for e in events} == {str(request.id)}  # type: ignore[attr-defined]
    for published in events:  # as contacts will read it
        parsed = registry.parse(published.to_json())
        assert type(parsed.data) is ANSWERS["sales"] and parsed.source == "/crm/sales"


def test_nothing_held_is_one_part_saying_so() -> None:
    [event] = answers(requested(), "analytics", {"scores": []})  # type: ignore[arg-type]

    assert (event.data.held, event.data.document, event.data.parts) == (False, {}, 1)


def test_a_record_is_its_identity_and_state_as_json() -> None:
    deal = Deal(customer_id=CUSTOMER, amount=Decimal("12.50"))

    state = record(deal)

    assert state["id"] == str(deal.id) and state["version"] == 1
    assert (state["customer_id"], state["amount"], state["stage"]) == (
        str(CUSTOMER),
        "12.50",
        "open",
    )
    assert "_cache" not in state


def test_the_records_created_about_the_person_are_found_in_the_log(
    app: Application[uuid.UUID],
) -> None:
    theirs, others, note = (
        Deal(CUSTOMER, Decimal(1)),
        Deal(uuid.uuid4(), Decimal(2)),
        Note(CUSTOMER),
    )
    app.save(theirs, others, note)

    assert created_about(app, topics_of(Deal), CUSTOMER) == [theirs.id]
    assert created_about(app, topics_of(Deal, Note), CUSTOMER) == [theirs.id, note.id]


def test_a_person_is_erased_here_once_the_service_confirmed_their_erasure(
    app: Application[uuid.UUID],
) -> None:
    assert not erased_here(app, CUSTOMER)
    erased = [ErasedData(kind="deal", method=ErasureMethod.DELETED)]
    app.save(confirm_erasure(app, CUSTOMER, erased))

    assert erased_here(app, CUSTOMER)


def test_the_answer_topics_keep_their_personal_data_briefly_and_faststream_never_makes_them() -> (
    None
):
    for topic in ANSWER_TOPICS:
        assert CONFIGURED[topic] == {"retention.ms": str(ANSWER_RETENTION_MS)}
        assert declared(topic).declare is False
    assert ANSWER_RETENTION_MS <= 7 * 24 * 3600 * 1000
