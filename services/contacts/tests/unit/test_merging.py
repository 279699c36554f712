"""Merging duplicates: the rules, the combined view, and merge-then-unmerge restoring both records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_contacts.application import ContactsApplication, CustomerView
from crm_contacts.domain import (
    Customer,
    CustomerErased,
    CustomerMerged,
    InvalidState,
    MergeNotFound,
    RuleViolation,
    active_merge,
    combine,
    erase,
    merge,
    unmerge,
)
from crm_contacts.domain.codec import to_json

from .conftest import NOW, a_person, command, consent, contact

pytestmark = pytest.mark.unit


def merged(survivor: Customer, duplicate: Customer) -> UUID:
    merge_id = uuid4()
    merge(survivor, duplicate, merge_id=merge_id, merged_at=NOW)
    return merge_id


def test_a_merge_links_both_records_and_copies_nothing() -> None:
    survivor, duplicate = a_person(given_name="Ada"), a_person(emails=[{"address": "ada@b.io"}])
    before = [e for e in duplicate.collect_events()]

    merge_id = merged(survivor, duplicate)

    assert duplicate.merged_into == survivor.id and survivor.merged_into is None
    assert [m.merge_id for m in survivor.merged_duplicates] == [merge_id]
    assert survivor.profile.emails == ()  # the duplicate's data stays in its own events
    [survivor_merged] = survivor.collect_events()[1:]
    assert not {"emails", "given_name", "family_name"} & set(vars(survivor_merged))
    assert len(before) == 1


@pytest.mark.parametrize("state", ["erased", "merged", "holding"])
def test_only_a_standing_record_without_merged_ones_can_be_merged_away(state: str) -> None:
    survivor, duplicate = a_person(), a_person()
    if state == "erased":
        erase(duplicate, [], at=NOW)
    elif state == "merged":
        merged(a_person(), duplicate)
    else:
        merged(duplicate, a_person())

    with pytest.raises(InvalidState):
        merged(survivor, duplicate)
    assert survivor.merges == {}


def test_a_record_cannot_merge_itself_nor_act_once_merged_or_erased() -> None:
    survivor = a_person()
    with pytest.raises(RuleViolation) as raised:
        merged(survivor, survivor)
    assert raised.value.field == "duplicate_id"

    absorbed = a_person()
    merged(a_person(), absorbed)
    with pytest.raises(CustomerMerged):
        merged(absorbed, a_person())
    gone = a_person()
    erase(gone, [], at=NOW)
    with pytest.raises(CustomerErased):
        merged(gone, a_person())


def test_unmerge_ends_the_link_once() -> None:
    survivor, duplicate = a_person(), a_person()
    merge_id = merged(survivor, duplicate)

    unmerge(survivor, duplicate, merge_id=merge_id, at=NOW)

    assert active_merge(survivor, merge_id) is None
    assert duplicate.merged_into is None and survivor.merged_duplicates == []
    with pytest.raises(InvalidState):
        unmerge(survivor, duplicate, merge_id=merge_id, at=NOW)
    with pytest.raises(MergeNotFound):
        active_merge(survivor, uuid4())
    with pytest.raises(MergeNotFound):  # the duplicate does not hold the merge as a survivor
        active_merge(duplicate, merge_id)


def test_erasing_a_survivor_erases_the_duplicates_merged_into_it() -> None:
    survivor, duplicate, former = a_person(), a_person(), a_person()
    merged(survivor, duplicate)
    unmerge(survivor, former, merge_id=merged(survivor, former), at=NOW)

    erase(survivor, [duplicate], at=NOW)

    assert survivor.erased_at == duplicate.erased_at == NOW
    assert former.erased_at is None


def test_the_combined_view_is_the_union_with_the_survivors_data_first() -> None:
    survivor = a_person(
        given_name="Ada",
        emails=[{"address": "ada@home.io"}, {"address": "shared@b.io"}],
        tags=["vip"],
        preferences={"language": "en"},
        custom_fields={},
    )
    duplicate = a_person(
        given_name="Augusta",
        emails=[{"address": "shared@b.io"}, {"address": "ada@work.io", "primary": True}],
        tags=["newsletter", "vip"],
        preferences={"language": "fr", "preferred_channel": "email"},
    )
    contact(survivor, summary="second", occurred_at=NOW - timedelta(minutes=5))
    contact(duplicate, summary="first", occurred_at=NOW - timedelta(minutes=50))
    for customer, status, days in ((survivor, "granted", 3), (duplicate, "withdrawn", 1)):
        consent(customer, status=status, evidence=None, decided_at=NOW - timedelta(days=days))
    merged(survivor, duplicate)

    shown = combine(survivor, [duplicate])

    assert shown.given_name == "Ada"
    assert [(s.record_id, s.item.address, s.item.primary) for s in shown.emails] == [
        (survivor.id, "ada@home.io", True),
        (survivor.id, "shared@b.io", False),
        (duplicate.id, "ada@work.io", False),
    ]
    assert shown.tags == ("newsletter", "vip")
    assert (shown.preferences.language, shown.preferences.preferred_channel) == ("en", "email")
    assert [s.item.summary for s in shown.interactions] == ["first", "second"]
    assert [(s.record_id, s.item.status) for s in shown.consents_in_force] == [
        (duplicate.id, "withdrawn")
    ]


def test_a_survivor_without_contact_points_shows_the_duplicates_primary() -> None:
    survivor = a_person()
    duplicate = a_person(
        phones=[{"number": "+14155550100"}, {"number": "+14155550101", "primary": True}]
    )

    shown = combine(survivor, [duplicate])

    assert [(s.item.number, s.item.primary) for s in shown.phones] == [
        ("+14155550100", False),
        ("+14155550101", True),
    ]


# --- merge, then unmerge: both records as they would be without the merge ---------------------

ADDRESSES = st.sampled_from(["a@b.io", "c@d.io", "e@f.io", "g@h.io"])
PROFILES = st.fixed_dictionaries(
    {"family_name": st.sampled_from(["Lovelace", "Byron", "King"])},
    optional={
        "given_name": st.sampled_from(["Ada", "Augusta"]),
        "emails": st.lists(
            st.fixed_dictionaries({"address": ADDRESSES}),
            max_size=2,
            unique_by=lambda e: e["address"],
        ),
        "tags": st.lists(st.sampled_from(["vip", "gold", "press"]), max_size=2),
        "preferences": st.fixed_dictionaries({"language": st.sampled_from(["en", "de"])}),
    },
)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("contact"), st.sampled_from(["call", "visit", "mail"])),
        st.tuples(st.just("consent"), st.sampled_from(["granted", "withdrawn"])),
        st.tuples(st.just("update"), PROFILES),
    ),
    max_size=4,
)


def apply(
    app: ContactsApplication, customer_id: UUID, operations: list[tuple[str, Any]], ids: list[UUID]
) -> None:
    """Run ``operations`` on the customer; ``ids`` gives each its command id (shared by runs)."""
    for (kind, argument), command_id in zip(operations, ids, strict=False):
        if kind == "contact":
            app.record_contact(
                customer_id,
                command(command_id),
                channel="phone",
                direction="inbound",
                summary=argument,
                actor="bob",
                occurred_at=NOW - timedelta(minutes=len(ids)),
            )
        elif kind == "consent":
            app.record_consent(
                customer_id,
                command(command_id),
                channel="email",
                purpose="marketing",
                status=argument,
                source="call",
                evidence="on the phone",
                decided_at=NOW,
            )
        else:
            app.update_customer(customer_id, command(command_id), patch=argument)


def content(view: CustomerView) -> Any:
    """What a view shows of the person, without the versions that bookkeeping adds."""
    return _without_versions(to_json(view.person))


def _without_versions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_versions(v) for k, v in value.items() if k != "customer_version"}
    if isinstance(value, list):
        return [_without_versions(v) for v in value]
    return value


def new_app() -> ContactsApplication:
    return ContactsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROFILES, PROFILES, OPERATIONS, OPERATIONS, OPERATIONS)
def test_merge_then_unmerge_restores_both_records(
    survivor_profile: dict[str, Any],
    duplicate_profile: dict[str, Any],
    survivor_before: list[tuple[str, Any]],
    duplicate_before: list[tuple[str, Any]],
    survivor_while_merged: list[tuple[str, Any]],
) -> None:
    survivor, duplicate = uuid4(), uuid4()
    ids = [uuid4() for _ in range(14)]
    merged_app, reference = new_app(), new_app()
    for app in (merged_app, reference):
        app.register_customer(command(ids[0]), survivor, profile=survivor_profile)
        app.register_customer(command(ids[1]), duplicate, profile=duplicate_profile)
        apply(app, survivor, survivor_before, ids[2:6])
        apply(app, duplicate, duplicate_before, ids[6:10])
    duplicate_history = merged_app.export_customer(duplicate).records[0].history

    merge_id = merged_app.merge_customers(
        survivor, command(), duplicate_id=duplicate, duplicate_expected_version=None
    ).value.link.merge_id
    with pytest.raises(CustomerMerged):
        merged_app.get_customer(duplicate)
    shown = merged_app.get_customer(survivor)
    assert {s.record_id for s in shown.person.interactions} <= {survivor, duplicate}
    for app in (merged_app, reference):
        apply(app, survivor, survivor_while_merged, ids[10:])
    merged_app.unmerge_customers(survivor, merge_id, command())

    for customer_id in (survivor, duplicate):
        assert content(merged_app.get_customer(customer_id)) == content(
            reference.get_customer(customer_id)
        )
    restored_history = merged_app.export_customer(duplicate).records[0].history
    assert restored_history[: len(duplicate_history)] == duplicate_history
    assert [h.type for h in restored_history[len(duplicate_history) :]] == [
        "Customer.Merged",
        "Customer.Unmerged",
    ]
