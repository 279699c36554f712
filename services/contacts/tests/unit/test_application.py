"""The contacts application on the in-memory store: idempotency, concurrency, merges, GDPR."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from crm_contacts.application import ContactsApplication, CustomerView
from crm_contacts.domain import (
    CustomerErased,
    CustomerMerged,
    IdempotencyKeyReused,
    Interaction,
    InteractionNotFound,
    InvalidState,
    MergeNotFound,
    RecordKind,
    RecordNotFound,
    RuleViolation,
    VersionConflict,
)
from crm_platform.commands import Outcome

from .conftest import command

pytestmark = pytest.mark.unit


def register(
    app: ContactsApplication, customer_id: UUID, fingerprint: str = "r1", **profile: Any
) -> Outcome[CustomerView]:
    return app.register_customer(
        command(uuid5(customer_id, "register"), fingerprint=fingerprint),
        customer_id,
        profile={
            "given_name": "Ada",
            "family_name": "Lovelace",
            "emails": [{"address": "Ada@Example.org"}],
            **profile,
        },
    )


def record(
    app: ContactsApplication,
    customer_id: UUID,
    interaction_id: UUID | None = None,
    *,
    expected_version: int | None = None,
    fingerprint: str = "c1",
) -> Outcome[Interaction]:
    """The interaction recorded (its id is its command's)."""
    cmd = command(interaction_id, fingerprint=fingerprint, expected_version=expected_version)
    outcome = app.record_contact(
        customer_id,
        cmd,
        channel="email",
        direction="outbound",
        summary="Sent the offer",
        actor="bob",
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    return Outcome(outcome.value.interactions[cmd.command_id], outcome.replayed)


def merge(app: ContactsApplication, survivor: UUID, duplicate: UUID, **options: Any) -> Any:
    return app.merge_customers(
        survivor,
        command(
            options.pop("merge_id", None),
            fingerprint=options.pop("fingerprint", "m1"),
            expected_version=options.pop("expected_version", None),
        ),
        duplicate_id=duplicate,
        duplicate_expected_version=options.pop("duplicate_expected_version", None),
    )


def organization(app: ContactsApplication, **profile: Any) -> UUID:
    organization_id = uuid4()
    app.register_organization(
        command(),
        organization_id,
        profile={"name": "Analytical Engines", "kinds": ["customer"], **profile},
    )
    return organization_id


def test_a_registered_customer_can_be_read_back(application: ContactsApplication) -> None:
    customer_id = uuid4()

    outcome = register(application, customer_id)

    assert not outcome.replayed
    assert application.get_customer(customer_id) == outcome.value
    assert outcome.value.person.emails[0].item.address == "ada@example.org"
    assert outcome.value.version == 1


def test_a_retried_registration_answers_as_the_first_even_after_later_changes(
    application: ContactsApplication,
) -> None:
    customer_id = uuid4()
    first = register(application, customer_id)
    record(application, customer_id)

    retry = register(application, customer_id)

    assert retry.replayed
    assert retry.value == first.value
    assert application.get_customer(customer_id).version == 2
    with pytest.raises(IdempotencyKeyReused):
        register(application, customer_id, fingerprint="other")


def test_contacts_are_listed_as_they_occurred(application: ContactsApplication) -> None:
    customer_id = uuid4()
    register(application, customer_id)

    ids = [
        record(application, customer_id, expected_version=v).value.interaction_id for v in (1, 2, 3)
    ]

    customer = application.get_customer(customer_id)
    assert [s.item.interaction_id for s in customer.person.interactions] == ids
    assert customer.version == 4
    assert application.get_interaction(customer_id, ids[1]).item.customer_version == 3


def test_a_stale_expected_version_is_a_conflict_naming_the_current_one(
    application: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(application, customer_id)
    record(application, customer_id, expected_version=1)

    with pytest.raises(VersionConflict) as raised:
        record(application, customer_id, expected_version=1)

    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert application.get_customer(customer_id).version == 2


def test_a_retried_command_is_a_replay_even_with_its_now_stale_version(
    application: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(application, customer_id)
    interaction_id = uuid4()
    first = record(application, customer_id, interaction_id, expected_version=1)

    retry = record(application, customer_id, interaction_id, expected_version=1)

    assert retry.replayed
    assert retry.value == first.value
    assert application.get_customer(customer_id).version == 2
    with pytest.raises(IdempotencyKeyReused):
        record(application, customer_id, interaction_id, fingerprint="other")


def test_a_retried_profile_update_answers_the_view_it_first_answered(
    application: ContactsApplication,
) -> None:
    customer_id, command_id = uuid4(), uuid4()
    register(application, customer_id)

    def update() -> Any:
        return application.update_customer(
            customer_id, command(command_id, expected_version=1), patch={"tags": ["vip"]}
        )

    first = update()
    record(application, customer_id)
    retry = update()

    assert (first.replayed, retry.replayed) == (False, True)
    assert retry.value == first.value
    assert retry.value.person.tags == ("vip",)


def test_unknown_records_are_not_found(application: ContactsApplication) -> None:
    customer_id = uuid4()
    with pytest.raises(RecordNotFound, match="customer"):
        application.get_customer(customer_id)
    with pytest.raises(RecordNotFound, match="customer"):
        record(application, customer_id)
    with pytest.raises(RecordNotFound, match="organization"):
        application.get_organization(customer_id)
    register(application, customer_id)
    with pytest.raises(InteractionNotFound):
        application.get_interaction(customer_id, uuid4())
    with pytest.raises(RecordNotFound, match="organization"):  # a person's id is no organization's
        application.get_organization(customer_id)
    with pytest.raises(MergeNotFound):
        application.get_merge(customer_id, uuid4())


def race(app: ContactsApplication, rival: Callable[[], object]) -> None:
    """Let ``rival`` commit just before the application's next save, as a concurrent writer."""
    save = app.save

    def save_after_rival(*objs: Any, **kwargs: Any) -> Any:
        del app.save  # the rival and the retries save normally
        rival()
        return save(*objs, **kwargs)

    app.save = save_after_rival  # type: ignore[method-assign]


def test_losing_a_race_with_an_expected_version_is_a_conflict(
    application: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(application, customer_id)
    race(application, lambda: record(application, customer_id))

    with pytest.raises(VersionConflict) as raised:
        record(application, customer_id, expected_version=1)

    assert (raised.value.expected, raised.value.actual) == (1, 2)


def test_losing_a_race_without_an_expected_version_retries(
    application: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(application, customer_id)
    race(application, lambda: record(application, customer_id))

    outcome = record(application, customer_id)

    assert not outcome.replayed
    assert outcome.value.customer_version == 3
    assert len(application.get_customer(customer_id).person.interactions) == 2


def test_racing_retries_of_one_contact_record_it_once(application: ContactsApplication) -> None:
    customer_id, interaction_id = uuid4(), uuid4()
    register(application, customer_id)
    race(application, lambda: record(application, customer_id, interaction_id, expected_version=1))

    outcome = record(application, customer_id, interaction_id, expected_version=1)

    assert outcome.replayed
    assert application.get_customer(customer_id).version == 2


@pytest.mark.parametrize(("fingerprint", "replayed"), [("r1", True), ("other", False)])
def test_racing_registrations_with_one_key(
    application: ContactsApplication, fingerprint: str, replayed: bool
) -> None:
    customer_id = uuid4()
    race(application, lambda: register(application, customer_id, fingerprint=fingerprint))

    if replayed:
        assert register(application, customer_id).replayed
    else:
        with pytest.raises(IdempotencyKeyReused):
            register(application, customer_id)


def test_roles_must_be_at_known_organizations(application: ContactsApplication) -> None:
    known = organization(application)

    register(application, uuid4(), roles=[{"organization_id": str(known), "title": "CTO"}])
    with pytest.raises(RuleViolation) as raised:
        register(
            application,
            uuid4(),
            roles=[{"organization_id": str(known)}, {"organization_id": str(uuid4())}],
        )

    assert raised.value.field == "roles.1.organization_id"


def test_custom_fields_take_the_values_their_definitions_admit(
    application: ContactsApplication,
) -> None:
    shoe_size = {"type": "number", "label": "Shoe size"}
    defined = application.define_custom_field(RecordKind.PERSON, "shoe_size", shoe_size, command())
    again = application.define_custom_field(RecordKind.PERSON, "shoe_size", shoe_size, command())

    assert (defined.value.created, defined.replayed, again.value.created, again.replayed) == (
        True,
        False,
        False,
        True,
    )
    customer = register(application, uuid4(), custom_fields={"shoe_size": 38}).value
    assert customer.person.custom_fields == {"shoe_size": "38"}
    with pytest.raises(RuleViolation) as raised:
        register(application, uuid4(), custom_fields={"shoe_size": "big"})
    assert raised.value.field == "custom_fields.shoe_size"
    with pytest.raises(RuleViolation):  # defined for people, not for organizations
        organization(application, custom_fields={"shoe_size": 1})
    with pytest.raises(VersionConflict):
        application.define_custom_field(
            RecordKind.PERSON,
            "hat",
            {"type": "string", "label": "Hat"},
            command(expected_version=1),
        )
    assert [d.name for d in application.custom_fields(RecordKind.PERSON)[1]] == ["shoe_size"]


def test_organizations_live_under_known_parents_without_cycles(
    application: ContactsApplication,
) -> None:
    parent = organization(application)
    child = organization(application, parent_id=str(parent))

    with pytest.raises(RuleViolation) as raised:
        organization(application, parent_id=str(uuid4()))
    assert raised.value.field == "parent_id"
    with pytest.raises(RuleViolation, match="ancestor"):
        application.update_organization(parent, command(), patch={"parent_id": str(child)})
    assert application.get_organization(child).profile.parent_id == parent


def test_a_merged_person_redirects_and_shows_under_the_survivor(
    application: ContactsApplication,
) -> None:
    survivor, duplicate = uuid4(), uuid4()
    register(application, survivor)
    register(application, duplicate, emails=[{"address": "ada@work.io"}])
    record(application, duplicate)

    merged = merge(
        application, survivor, duplicate, expected_version=1, duplicate_expected_version=2
    )

    assert merged.value.version == 2
    with pytest.raises(CustomerMerged) as raised:
        application.get_customer(duplicate)
    assert raised.value.survivor_id == survivor
    with pytest.raises(CustomerMerged):
        record(application, duplicate)
    shown = application.get_customer(survivor)
    assert [s.item.address for s in shown.person.emails] == ["ada@example.org", "ada@work.io"]
    assert [s.record_id for s in shown.person.interactions] == [duplicate]
    assert merge(application, survivor, duplicate, merge_id=merged.value.link.merge_id).replayed


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"expected_version": 2}, VersionConflict),
        ({"duplicate_expected_version": 3}, VersionConflict),
    ],
)
def test_a_merge_on_stale_versions_changes_nothing(
    application: ContactsApplication, options: dict[str, Any], error: type[Exception]
) -> None:
    survivor, duplicate = uuid4(), uuid4()
    register(application, survivor)
    register(application, duplicate)

    with pytest.raises(error):
        merge(application, survivor, duplicate, **options)

    assert application.get_customer(duplicate).version == 1
    assert application.get_customer(survivor).version == 1


def test_a_merge_of_an_unknown_or_erased_duplicate_is_refused(
    application: ContactsApplication,
) -> None:
    survivor, erased = uuid4(), uuid4()
    register(application, survivor)
    register(application, erased)
    application.erase_customer(erased, command())

    with pytest.raises(RuleViolation) as raised:
        merge(application, survivor, uuid4())
    assert raised.value.field == "duplicate_id"
    with pytest.raises(InvalidState):
        merge(application, survivor, erased)


def test_unmerging_twice_answers_the_same(application: ContactsApplication) -> None:
    survivor, duplicate = uuid4(), uuid4()
    register(application, survivor)
    register(application, duplicate)
    merge_id = merge(application, survivor, duplicate).value.link.merge_id

    unmerge_id = uuid4()
    first = application.unmerge_customers(
        survivor, merge_id, command(unmerge_id, expected_version=2)
    )
    again = application.unmerge_customers(
        survivor, merge_id, command(unmerge_id, expected_version=2)
    )
    by_another = application.unmerge_customers(survivor, merge_id, command(expected_version=3))

    assert (first.replayed, again.replayed, by_another.replayed) == (False, True, False)
    assert again.value == first.value == by_another.value
    assert first.value.link.unmerged_at is not None
    assert application.get_customer(duplicate).version == 3
    with pytest.raises(MergeNotFound):
        application.unmerge_customers(survivor, uuid4(), command())


def test_erasure_destroys_the_keys_of_the_person_and_of_their_merged_duplicates(
    application: ContactsApplication,
) -> None:
    person, duplicate, bystander = uuid4(), uuid4(), uuid4()
    for customer_id in (person, duplicate, bystander):
        register(application, customer_id)
    merge(application, person, duplicate)

    erasure = uuid4()
    erased = application.erase_customer(person, command(erasure))
    again = application.erase_customer(person, command(erasure))

    assert set(erased.value.erased_records) == {person, duplicate}
    assert (erased.replayed, again.replayed, again.value) == (False, True, erased.value)
    keys = application.personal_data_keys
    assert keys.is_destroyed(person) and keys.is_destroyed(duplicate)
    assert not keys.is_destroyed(bystander)
    for customer_id in (person, duplicate):
        with pytest.raises(CustomerErased):
            application.get_customer(customer_id)
        with pytest.raises(CustomerErased):
            record(application, customer_id)
    with pytest.raises(CustomerErased):  # the first answer held personal data: gone too
        register(application, person)
    assert application.get_customer(bystander).person.family_name == "Lovelace"


def test_erasing_a_merged_duplicate_is_redirected_to_the_survivor(
    application: ContactsApplication,
) -> None:
    survivor, duplicate = uuid4(), uuid4()
    register(application, survivor)
    register(application, duplicate)
    merge(application, survivor, duplicate)

    with pytest.raises(CustomerMerged):
        application.erase_customer(duplicate, command())
    assert not application.personal_data_keys.is_destroyed(duplicate)


def test_the_export_holds_every_record_and_its_history_and_nothing_once_erased(
    application: ContactsApplication,
) -> None:
    person, duplicate = uuid4(), uuid4()
    register(application, person)
    register(application, duplicate, given_name="Augusta")
    record(application, duplicate)
    merge(application, person, duplicate)

    export = application.export_customer(person)

    assert export.status == "active"
    assert [r.customer_id for r in export.records] == [person, duplicate]
    assert [h.type for h in export.records[1].history] == [
        "Customer.Registered",
        "Customer.Contacted",
        "Customer.Merged",
    ]
    assert export.records[1].history[0].data["given_name"] == "Augusta"
    assert "request_fingerprint" not in export.records[1].history[0].data
    with pytest.raises(CustomerMerged):
        application.export_customer(duplicate)

    application.erase_customer(person, command())
    erased = application.export_customer(person)

    assert erased.status == "erased" and erased.erased_at is not None
    for exported in erased.records:
        assert exported.profile.family_name is None
        assert exported.history[0].data["family_name"] is None
        assert exported.history[-1].type == "Customer.Erased"
    assert erased.records[1].interactions[0].summary is None
