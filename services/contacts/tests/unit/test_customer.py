from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_contacts.domain import CLOCK_SKEW, Channel, Customer, Direction, RuleViolation
from crm_contacts.domain.values import normalize_phone

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


def register(**overrides: object) -> Customer:
    details = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": None,
        "phone": None,
        "request_fingerprint": "fp",
        **overrides,
    }
    return Customer.register(uuid4(), **details)  # type: ignore[arg-type]


def contact(customer: Customer, interaction_id: UUID | None = None, **overrides: object) -> bool:
    details = {
        "interaction_id": interaction_id or uuid4(),
        "channel": "phone",
        "direction": "inbound",
        "summary": "Asked for a quote",
        "actor": "bob",
        "occurred_at": NOW - timedelta(minutes=3),
        "request_fingerprint": "fp",
        "now": NOW,
        **overrides,
    }
    return customer.record_contact(**details)  # type: ignore[arg-type]


def test_registration_normalizes_names_email_and_phone() -> None:
    customer = register(given_name="  Ada ", email=" Ada@Example.ORG ", phone="0044 (20) 7946-0958")

    assert (customer.given_name, customer.email, customer.phone) == (
        "Ada",
        "ada@example.org",
        "+442079460958",
    )
    assert customer.version == 1
    assert customer.interactions == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "  "),
        ("family_name", ""),
        ("family_name", "x" * 201),
        ("email", " "),
        ("phone", "030 1234567"),
        ("phone", "+0301234567"),
        ("phone", "+12345"),
        ("phone", "+1234567890123456"),
        ("phone", "+49 30 abc"),
    ],
)
def test_registration_rejects_bad_input_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(RuleViolation) as raised:
        register(**{field: value})

    assert raised.value.field == field


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("+1 (415) 555-0100", "+14155550100"),
        ("0049 30 123456", "+4930123456"),
        ("+49/30.123.456", "+4930123456"),
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_phone_numbers_are_normalized_to_e164(raw: str, normalized: str) -> None:
    assert normalize_phone(raw) == normalized


def test_recording_a_contact_emits_one_event_with_the_interaction() -> None:
    customer = register()
    interaction_id = uuid4()

    assert contact(customer, interaction_id, summary="  Wants a call back  ")

    interaction = customer.interactions[interaction_id]
    assert interaction.channel is Channel.PHONE
    assert interaction.direction is Direction.INBOUND
    assert interaction.summary == "Wants a call back"
    assert interaction.customer_version == customer.version == 2
    assert [type(e).__name__ for e in customer.collect_events()] == ["Registered", "Contacted"]


def test_recording_the_same_interaction_twice_emits_nothing_the_second_time() -> None:
    customer = register()
    interaction_id = uuid4()
    contact(customer, interaction_id)
    customer.collect_events()

    assert not contact(customer, interaction_id, summary="something else")

    assert customer.collect_events() == []
    assert customer.interactions[interaction_id].summary == "Asked for a quote"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "pigeon"),
        ("direction", "sideways"),
        ("summary", " \n "),
        ("summary", "x" * 4001),
        ("actor", ""),
        ("occurred_at", datetime(2025, 3, 14, 9, 0)),
        ("occurred_at", NOW + CLOCK_SKEW + timedelta(seconds=1)),
    ],
)
def test_a_contact_breaking_a_rule_names_the_field_and_changes_nothing(
    field: str, value: object
) -> None:
    customer = register()

    with pytest.raises(RuleViolation) as raised:
        contact(customer, **{field: value})

    assert raised.value.field == field
    assert customer.version == 1
    assert customer.interactions == {}


def test_occurred_at_within_the_clock_skew_is_accepted_and_stored_in_utc() -> None:
    local = (NOW + CLOCK_SKEW).astimezone(datetime.now().astimezone().tzinfo)
    customer = register()
    interaction_id = uuid4()

    contact(customer, interaction_id, occurred_at=local)

    assert customer.interactions[interaction_id].occurred_at == NOW + CLOCK_SKEW
    assert customer.interactions[interaction_id].occurred_at.tzinfo is UTC


@given(st.lists(st.integers(min_value=0, max_value=7), max_size=30))
def test_any_interactions_with_duplicates_yield_exactly_the_unique_ones(picks: list[int]) -> None:
    pool = [uuid4() for _ in range(8)]
    customer = register()

    for pick in picks:
        contact(customer, pool[pick])

    unique = [pool[pick] for pick in dict.fromkeys(picks)]
    events = customer.collect_events()
    assert list(customer.interactions) == unique
    assert [e.originator_version for e in events] == list(range(1, len(unique) + 2))
    assert [i.customer_version for i in customer.interactions.values()] == list(
        range(2, len(unique) + 2)
    )
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert replayed.interactions == customer.interactions
