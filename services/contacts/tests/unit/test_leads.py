"""Sales converted a lead: the worker registers the person (and organization) exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from crm_contacts.application import ContactsApplication
from crm_contacts.contracts import translate
from crm_contacts.domain import Origin
from crm_contacts.messaging.leads import register_converted_lead
from crm_events import Event, build_event
from crm_events.contacts import CustomerRegisteredV2
from crm_events.personal import Sealed, new_key, seal, unseal
from crm_events.sales.leads import LeadConverted, LeadQualified
from crm_platform.privacy import KeyNotYetKnown

from .conftest import command

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


class Keyring:
    """The worker's keyring as the key topic would have filled it."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}

    def unseal_sync(self, sealed: Sealed | None) -> Any:
        if sealed is None:
            return None
        if sealed.kid not in self.keys:
            raise KeyNotYetKnown(sealed.kid)
        key = self.keys[sealed.kid]
        return None if key is None else unseal(sealed, key)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring()


def conversion(keyring: Keyring, **overrides: Any) -> Event[Any]:
    lead_id = overrides.pop("lead_id", uuid4())
    key = keyring.keys.setdefault(lead_id, new_key())
    assert key is not None

    def sealed(value: Any) -> Sealed | None:
        return None if value is None else seal(value, key=key, subject=lead_id)

    details = {
        "name": {"given_name": "Grace", "family_name": "Hopper"},
        "email": "grace@navy.example",
        "phone": "+12025550100",
        "company": "Navy Labs",
        "title": "Rear Admiral",
        **overrides,
    }
    data = LeadConverted(
        lead_id=lead_id,
        customer_id=details.pop("customer_id", uuid4()),
        new_customer=details.pop("new_customer", True),
        organization_id=details.pop("organization_id", uuid4()),
        opportunity_id=uuid4(),
        **{name: sealed(value) for name, value in details.items()},
        owner="bob",
        converted_by="bob",
        converted_at=NOW,
    )
    return build_event(data, aggregate_id=lead_id, aggregate_version=5, time=NOW)


_offsets = iter(range(1, 10_000))


def position() -> Tracking:
    return Tracking(
        application_name="contacts.lead-conversions|crm.sales.lead.v1|0",
        notification_id=next(_offsets),
    )


def react(
    app: ContactsApplication, keyring: Keyring, event: Event[Any], at: Tracking | None = None
) -> None:
    register_converted_lead(app, event, at or position(), keyring=keyring)


def test_a_converted_lead_becomes_a_person_at_a_new_organization(
    application: ContactsApplication, keyring: Keyring
) -> None:
    event = conversion(keyring)
    data = event.data

    react(application, keyring, event)

    person = application.get_customer(data.customer_id)
    assert (person.person.given_name, person.person.family_name) == ("Grace", "Hopper")
    assert [s.item.address for s in person.person.emails] == ["grace@navy.example"]
    assert [s.item.number for s in person.person.phones] == ["+12025550100"]
    [role] = person.person.roles
    assert (role.item.organization_id, role.item.title) == (data.organization_id, "Rear Admiral")
    assert (person.origin, person.lead_id) == (Origin.LEAD, data.lead_id)
    organization = application.get_organization(data.organization_id)
    assert (organization.profile.name, organization.profile.kinds) == ("Navy Labs", ("customer",))


def test_the_person_is_published_sealed_with_their_own_key(
    application: ContactsApplication, keyring: Keyring
) -> None:
    event = conversion(keyring, organization_id=None)
    react(application, keyring, event)

    published = [
        e
        for n in application.recorder.select_notifications(1, 10)
        for e in translate(*application.mapper.decode_with_metadata(n))
    ]

    [registered] = [e.data for e in published if isinstance(e.data, CustomerRegisteredV2)]
    customer_id = event.data.customer_id
    assert registered.family_name.kid == customer_id != event.data.lead_id
    key = application.personal_data_keys.key(customer_id)
    assert key is not None and unseal(registered.family_name, key) == "Hopper"
    assert (registered.origin, registered.lead_id) == ("lead", event.data.lead_id)


def test_a_redelivered_or_republished_conversion_registers_nothing_more(
    application: ContactsApplication, keyring: Keyring
) -> None:
    event = conversion(keyring)
    at = position()
    react(application, keyring, event, at)
    notifications = application.recorder.max_notification_id()

    react(application, keyring, event, at)  # the same message again
    react(application, keyring, event)  # the relay published it again: a new offset

    assert application.recorder.max_notification_id() == notifications
    assert application.get_customer(event.data.customer_id).version == 1


def test_a_known_organization_gets_the_role_and_an_unnamed_unknown_one_nothing(
    application: ContactsApplication, keyring: Keyring
) -> None:
    known = uuid4()
    application.register_organization(
        command(), known, profile={"name": "Known Ltd", "kinds": ["customer"]}
    )
    at_known = conversion(keyring, organization_id=known)
    nowhere = conversion(keyring, company=None)

    react(application, keyring, at_known)
    react(application, keyring, nowhere)

    assert application.get_organization(known).version == 1
    roles = application.get_customer(at_known.data.customer_id).person.roles
    assert [r.item.organization_id for r in roles] == [known]
    assert application.get_customer(nowhere.data.customer_id).person.roles == ()


def test_contact_details_contacts_cannot_use_are_left_out(
    application: ContactsApplication, keyring: Keyring
) -> None:
    event = conversion(
        keyring, phone="555-0100", email=None, name={"given_name": None, "family_name": "Hopper"}
    )

    react(application, keyring, event)

    person = application.get_customer(event.data.customer_id).person
    assert (person.given_name, person.phones, person.emails) == (None, (), ())


def test_a_lead_erased_before_its_conversion_was_read_registers_nothing(
    application: ContactsApplication, keyring: Keyring
) -> None:
    event = conversion(keyring)
    keyring.keys[event.data.lead_id] = None

    react(application, keyring, event)

    assert application.recorder.max_notification_id() in (None, 0)


def test_a_key_not_yet_known_is_a_transient_failure(
    application: ContactsApplication, keyring: Keyring
) -> None:
    event = conversion(keyring)
    del keyring.keys[event.data.lead_id]

    with pytest.raises(KeyNotYetKnown):
        react(application, keyring, event)
    assert application.recorder.max_notification_id() in (None, 0)


def test_other_lead_events_and_known_customers_are_ignored(
    application: ContactsApplication, keyring: Keyring
) -> None:
    lead_id = uuid4()
    qualified = LeadQualified(lead_id=lead_id, score=80, qualified_by="bob", qualified_at=NOW)

    react(application, keyring, build_event(qualified, aggregate_id=lead_id, time=NOW))
    react(application, keyring, conversion(keyring, new_customer=False))

    assert application.recorder.max_notification_id() in (None, 0)
