"""Subject-access requests and answers: the contracts, and an answer split under Kafka's limit."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from crm_events import registry
from crm_events.catalog import PACKAGE_ROOT
from crm_events.subject_access import (
    ANSWER_TOPICS,
    ANSWERING_SERVICES,
    ANSWERS,
    SubjectAccessAnswered,
    SubjectAccessRequested,
    answer_id,
    join_parts,
    split_document,
)

pytestmark = pytest.mark.unit

GOLDEN = json.loads((PACKAGE_ROOT / "examples" / "SubjectAccessAnswered.v1.json").read_text())
DOCUMENT = {
    "lead": [{"id": i, "notes": "x" * 100} for i in range(5)],
    "activity": [{"id": i, "subject": "call"} for i in range(3)],
}


def test_contacts_asks_and_each_service_answers_on_a_topic_of_its_own() -> None:
    assert SubjectAccessRequested.topic() == "crm.contacts.subject-access.v1"
    assert ANSWER_TOPICS == tuple(f"crm.{s}.subject-access.v1" for s in ANSWERING_SERVICES)
    assert "contacts" not in ANSWERING_SERVICES, "contacts assembles: its part is its own export"
    for topic in ANSWER_TOPICS:
        assert [m.event_type for m in registry.models_on(topic)] == ["SubjectAccessAnswered"]


@pytest.mark.parametrize("service", ANSWERING_SERVICES)
def test_the_registry_parses_an_answer_as_its_producers_model(service: str) -> None:
    event = registry.parse({**GOLDEN, "source": f"/crm/{service}"})

    assert type(event.data) is ANSWERS[service]
    assert isinstance(event.data, SubjectAccessAnswered)


def test_a_document_is_split_into_parts_under_the_limit_records_whole_and_in_order() -> None:
    parts = split_document(DOCUMENT, limit=400)

    assert len(parts) > 1
    for part in parts:
        assert len(json.dumps(part).encode()) <= 400
    assert join_parts(parts) == DOCUMENT


def test_a_small_document_is_one_part_and_nothing_is_one_empty_part() -> None:
    assert split_document(DOCUMENT) == [DOCUMENT]
    assert split_document({}) == [{}]
    assert join_parts([{}]) == {}


def test_a_record_larger_than_the_limit_makes_a_part_of_its_own() -> None:
    big = {"ticket": [{"id": 1}, {"body": "y" * 500}, {"id": 3}]}

    parts = split_document(big, limit=100)

    assert parts == [
        {"ticket": [{"id": 1}]},
        {"ticket": [{"body": "y" * 500}]},
        {"ticket": [{"id": 3}]},
    ]


def test_an_answers_parts_keep_their_ids_however_often_it_is_answered() -> None:
    request_id = uuid4()

    assert answer_id(request_id, "sales", 1) == answer_id(request_id, "sales", 1)
    ids = {answer_id(request_id, s, p) for s in ANSWERING_SERVICES for p in (1, 2)}
    assert len(ids) == 2 * len(ANSWERING_SERVICES)
