"""The Customer aggregate's rules: registration, profile changes, interactions, consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_contacts.domain import (
    CLOCK_SKEW,
    Channel,
    ConsentStatus,
    Customer,
    CustomerErased,
    CustomerMerged,
    Direction,
    RecordReference,
    RuleViolation,
    erase,
    in_force,
    merge,
)

from .conftest import NOW, a_person, consent, contact

pytestmark = pytest.mark.unit


def register(**profile: Any) -> Customer:
    return a_person(given_name="Ada", **profile)


def update(customer: Customer, patch: dict[str, Any]) -> list[str]:
    return customer.update_profile(patch=patch, definitions={})


def test_registration_records_every_section_once() -> None:
    customer = register(emails=[{"address": "Ada@Example.org"}], tags=["VIP"])

    assert customer.version == 1
    assert customer.profile.emails[0].address == "ada@example.org"
    assert customer.profile.tags == ("vip",)
    assert (customer.interactions, customer.consents, customer.merges) == ({}, [], {})
    [registered] = customer.collect_events()
    assert registered.emails == [{"address": "ada@example.org", "type": "other", "primary": True}]
    assert registered.phones == []


def test_a_profile_update_records_only_what_changed() -> None:
    customer = register(tags=["vip"])
    customer.collect_events()

    changed = update(customer, {"tags": ["VIP"], "given_name": "Augusta Ada"})

    assert changed == ["given_name"]
    [updated] = customer.collect_events()
    assert (updated.changed, updated.changes) == (["given_name"], {"given_name": "Augusta Ada"})
    assert customer.profile.given_name == "Augusta Ada"


def test_an_update_changing_nothing_records_nothing() -> None:
    customer = register(tags=["vip"])
    customer.collect_events()

    assert update(customer, {"tags": ["vip"]}) == []
    assert customer.collect_events() == []


def test_a_bad_update_names_the_field_and_changes_nothing() -> None:
    customer = register()
    customer.collect_events()

    with pytest.raises(RuleViolation) as raised:
        update(customer, {"given_name": "Ada", "phones": [{"number": "12"}]})

    assert raised.value.field == "phones.0.number"
    assert customer.collect_events() == []
    assert customer.profile.phones == ()


def test_recording_a_contact_keeps_the_interaction_with_its_version() -> None:
    customer = register()
    interaction_id = uuid4()

    contact(
        customer,
        interaction_id,
        summary="  Wants a call back  ",
        subject=" Quote ",
        related_to={"kind": "opportunity", "id": "42"},
    )

    interaction = customer.interactions[interaction_id]
    assert (interaction.channel, interaction.direction) == (Channel.PHONE, Direction.INBOUND)
    assert (interaction.subject, interaction.summary) == ("Quote", "Wants a call back")
    assert interaction.related_to == RecordReference("opportunity", "42")
    assert interaction.customer_version == customer.version == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "pigeon"),
        ("direction", "sideways"),
        ("summary", " \n "),
        ("summary", "x" * 4001),
        ("subject", "x" * 301),
        ("actor", ""),
        ("occurred_at", datetime(2025, 3, 14, 9, 0)),
        ("occurred_at", NOW + CLOCK_SKEW + timedelta(seconds=1)),
        ("related_to", {"kind": "Opportunity!", "id": "1"}),
    ],
)
def test_a_contact_breaking_a_rule_names_the_field_and_changes_nothing(
    field: str, value: object
) -> None:
    customer = register()

    with pytest.raises(RuleViolation) as raised:
        contact(customer, **{field: value})

    assert raised.value.field.split(".")[0] == field
    assert customer.version == 1
    assert customer.interactions == {}


def test_occurred_at_within_the_clock_skew_is_accepted_and_stored_in_utc() -> None:
    local = (NOW + CLOCK_SKEW).astimezone(datetime.now().astimezone().tzinfo)
    customer = register()
    interaction_id = uuid4()

    contact(customer, interaction_id, occurred_at=local)

    assert customer.interactions[interaction_id].occurred_at == NOW + CLOCK_SKEW
    assert customer.interactions[interaction_id].occurred_at.tzinfo is UTC


def test_consent_decisions_are_kept_and_the_latest_made_is_in_force() -> None:
    customer = register()
    consent(customer, status="granted", decided_at=NOW - timedelta(days=2))
    withdrawn = consent(customer, status="withdrawn", decided_at=NOW - timedelta(days=1))
    # A paper form signed long ago, scanned today: recorded last, but not in force.
    consent(customer, status="granted", source="paper_form", decided_at=NOW - timedelta(days=30))
    sms = consent(customer, channel="sms", purpose="service")

    assert len(customer.consents) == 4
    assert [(d.decision_id, d.status) for d in in_force(customer.consents)] == [
        (withdrawn, ConsentStatus.WITHDRAWN),
        (sms, ConsentStatus.GRANTED),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("purpose", "fun"),
        ("status", "maybe"),
        ("source", "rumour"),
        ("evidence", "x" * 2001),
        ("decided_at", NOW + timedelta(hours=1)),
    ],
)
def test_a_consent_breaking_a_rule_names_the_field(field: str, value: object) -> None:
    customer = register()

    with pytest.raises(RuleViolation) as raised:
        consent(customer, **{field: value})

    assert raised.value.field == field
    assert customer.consents == []


def test_an_erased_or_merged_person_takes_no_command() -> None:
    erased, survivor, merged = register(), register(), register()
    erase(erased, [], at=NOW)
    merge(survivor, merged, merge_id=uuid4(), merged_at=NOW)

    for command in (
        lambda c: contact(c),
        lambda c: consent(c),
        lambda c: update(c, {"given_name": "X"}),
    ):
        with pytest.raises(CustomerErased):
            command(erased)
        with pytest.raises(CustomerMerged) as raised:
            command(merged)
        assert raised.value.survivor_id == survivor.id


def test_erasure_forgets_the_plaintext_the_object_holds() -> None:
    customer = register(emails=[{"address": "ada@example.org"}])
    contact(customer)
    consent(customer)

    erase(customer, [], at=NOW)

    assert customer.erased_at == NOW
    assert (customer.profile.family_name, customer.profile.emails) == (None, ())
    assert [i.summary for i in customer.interactions.values()] == [None]
    assert [c.evidence for c in customer.consents] == [None]
    with pytest.raises(CustomerErased):
        erase(customer, [], at=NOW)


@given(st.lists(st.integers(min_value=0, max_value=7), max_size=30))
def test_any_interactions_with_duplicates_yield_exactly_the_unique_ones(picks: list[int]) -> None:
    """A retried contact is caught before the aggregate (by its command's receipt); one recorded
    again under its id (a retry of a command from before receipts) changes nothing, whatever the
    order of retries."""
    pool = [uuid4() for _ in range(8)]
    customer = register()

    for pick in picks:
        contact(customer, pool[pick])

    unique = [pool[pick] for pick in dict.fromkeys(picks)]
    events = customer.collect_events()
    assert list(customer.interactions) == unique
    assert [e.originator_version for e in events] == list(range(1, len(unique) + 2))
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert replayed.interactions == customer.interactions


def test_a_decision_or_a_merge_recorded_again_under_its_id_changes_nothing() -> None:
    survivor, duplicate = register(), register()
    decision = consent(survivor)
    merge_id = uuid4()
    merge(survivor, duplicate, merge_id=merge_id, merged_at=NOW)
    survivor.collect_events()

    consent(survivor, decision_id=decision, status="withdrawn")
    merge(survivor, duplicate, merge_id=merge_id, merged_at=NOW)

    assert survivor.collect_events() == []
    assert survivor.consent(decision).status is ConsentStatus.GRANTED
