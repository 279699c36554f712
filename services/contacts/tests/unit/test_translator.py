"""Domain events -> published contracts, as the relay sees them (personal data sealed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_contacts import domain
from crm_contacts.application import ContactsApplication
from crm_contacts.contracts import translate
from crm_contacts.domain import RecordKind
from crm_events import Event, registry
from crm_events.contacts import (
    ConsentGranted,
    ConsentWithdrawn,
    ContactsMerged,
    ContactsUnmerged,
    CustomerContactedV2,
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
    OrganizationProfileUpdated,
    OrganizationRegistered,
    PartnerRegistered,
    customer_v2,
    organization,
)
from crm_events.contacts import customer as customer_v1
from crm_events.erasure import CustomerErasureConfirmed
from crm_events.personal import PersonalDataKeyDestroyed, Sealed, unseal
from crm_platform.context import CommandContext, command_context

from .conftest import command

pytestmark = pytest.mark.unit

CONTEXT = CommandContext(
    correlation_id="corr-1",
    causation_id="cause-1",
    actor="alice",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
)


def published(app: ContactsApplication, since: int = 0) -> list[Event[Any]]:
    """What the relay publishes for the notifications after ``since``, in order."""
    notifications = app.recorder.select_notifications(since + 1, 100)
    return [e for n in notifications for e in translate(*app.mapper.decode_with_metadata(n))]


def opened(app: ContactsApplication, sealed: Sealed) -> Any:
    key = app.personal_data_keys.key(sealed.kid)
    assert key is not None
    return unseal(sealed, key)


def register(app: ContactsApplication, **profile: Any) -> UUID:
    customer_id = uuid4()
    with command_context(CONTEXT):
        app.register_customer(
            command(),
            customer_id,
            profile={"given_name": "Ada", "family_name": "Lovelace", **profile},
        )
    return customer_id


def test_a_registration_is_published_with_every_personal_field_sealed(
    application: ContactsApplication,
) -> None:
    customer_id = register(application, emails=[{"address": "ada@example.org"}], tags=["vip"])

    [event] = published(application)

    assert isinstance(event.data, CustomerRegisteredV2)
    assert (event.type, event.schemaversion, event.data.topic()) == (
        "CustomerRegistered",
        2,
        "crm.contacts.customer.v2",
    )
    assert (event.aggregateid, event.aggregateversion, event.actor) == (
        str(customer_id),
        1,
        "alice",
    )
    assert (event.correlationid, event.traceparent) == ("corr-1", CONTEXT.traceparent)
    data = event.data
    assert data.given_name is not None and data.given_name.kid == customer_id
    assert opened(application, data.given_name) == "Ada"
    assert opened(application, data.family_name) == "Lovelace"
    assert opened(application, data.emails) == [
        {"address": "ada@example.org", "type": "other", "primary": True}
    ]
    assert opened(application, data.tags) == ["vip"]
    assert data.origin == "api" and data.lead_id is None
    wire = event.to_json().decode()
    assert "Lovelace" not in wire and "ada@example.org" not in wire


def test_later_changes_are_published_in_order_on_the_person(
    application: ContactsApplication,
) -> None:
    customer_id = register(application)
    registered = application.recorder.max_notification_id()
    application.update_customer(
        customer_id, command(), patch={"phones": [{"number": "+442079460958"}]}
    )
    application.record_contact(
        customer_id,
        command(),
        channel="chat",
        direction="outbound",
        subject="Offer",
        summary="Sent the offer",
        actor="bob",
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        related_to={"kind": "quote", "id": "Q-1"},
    )
    for status in ("granted", "withdrawn"):
        application.record_consent(
            customer_id,
            command(),
            channel="sms",
            purpose="marketing",
            status=status,
            source="call",
            evidence=f"said {status} on the phone",
            decided_at=datetime.now(UTC),
        )

    updated, contacted, granted, withdrawn = published(application, since=registered)

    assert isinstance(updated.data, CustomerProfileUpdated)
    assert updated.data.changed == ["phones"]
    assert opened(application, updated.data.changes) == {
        "phones": [{"number": "+442079460958", "type": "other", "primary": True}]
    }
    assert isinstance(contacted.data, CustomerContactedV2)
    assert opened(application, contacted.data.summary) == "Sent the offer"
    assert contacted.data.subject is not None
    assert opened(application, contacted.data.subject) == "Offer"
    assert (contacted.data.actor, contacted.data.related_to.kind) == ("bob", "quote")  # type: ignore[union-attr]
    assert isinstance(granted.data, ConsentGranted)
    assert isinstance(withdrawn.data, ConsentWithdrawn)
    assert (withdrawn.data.channel, withdrawn.data.purpose, withdrawn.data.source) == (
        "sms",
        "marketing",
        "call",
    )
    assert withdrawn.data.evidence is not None
    assert opened(application, withdrawn.data.evidence) == "said withdrawn on the phone"
    assert [e.aggregateversion for e in (updated, contacted, granted, withdrawn)] == [2, 3, 4, 5]


def test_a_merge_and_its_undoing_are_published_on_both_records(
    application: ContactsApplication,
) -> None:
    survivor, duplicate = register(application), register(application)
    registered = application.recorder.max_notification_id()
    merge = application.merge_customers(
        survivor, command(), duplicate_id=duplicate, duplicate_expected_version=None
    ).value
    application.unmerge_customers(survivor, merge.link.merge_id, command())

    events = published(application, since=registered)

    assert [(type(e.data), e.aggregateid) for e in events] == [
        (ContactsMerged, str(survivor)),
        (ContactsMerged, str(duplicate)),
        (ContactsUnmerged, str(survivor)),
        (ContactsUnmerged, str(duplicate)),
    ]
    for event in events:
        assert (event.data.survivor_id, event.data.duplicate_id) == (survivor, duplicate)
        assert event.data.merge_id == merge.link.merge_id
    assert len({e.id for e in events}) == 4


def test_an_erasure_destroys_the_key_first_then_announces_it_and_confirms_it(
    application: ContactsApplication,
) -> None:
    customer_id = register(application)
    registered = application.recorder.max_notification_id()
    erasure = application.erase_customer(customer_id, command()).value

    destroyed, erased, confirmed = published(application, since=registered)

    assert isinstance(destroyed.data, PersonalDataKeyDestroyed)
    assert destroyed.data.subject_id == customer_id
    assert destroyed.data.topic() == "crm.privacy.personal-data-key.v1"
    assert destroyed.kafka_key() == str(customer_id).encode()
    assert isinstance(erased.data, CustomerErased)
    assert erased.data.erased_at == erasure.erased_at
    assert destroyed.id != erased.id and destroyed.aggregateversion == erased.aggregateversion
    [registered] = published(application)[:1]
    assert application.personal_data_keys.key(customer_id) is None
    assert isinstance(registered.data.family_name, Sealed), "the old events stay sealed"
    assert isinstance(confirmed.data, CustomerErasureConfirmed)
    assert confirmed.data.topic() == "crm.contacts.erasure.v1"
    assert (confirmed.data.customer_id, confirmed.data.service) == (customer_id, "contacts")
    assert confirmed.data.confirmed_at == erasure.erased_at
    assert [(d.kind, d.method) for d in confirmed.data.erased] == [("person", "key_destroyed")]
    assert len({destroyed.id, erased.id, confirmed.id}) == 3


def test_organizations_are_published_in_plain_text_with_partner_registrations(
    application: ContactsApplication,
) -> None:
    organization_id = uuid4()
    application.register_organization(
        command(),
        organization_id,
        profile={"name": "Resell Ltd", "kinds": ["partner"], "partner_type": "reseller"},
    )
    application.update_organization(
        organization_id,
        command(),
        patch={"kinds": ["customer"], "partner_type": None, "industry": "Retail"},
    )
    application.update_organization(
        organization_id, command(), patch={"kinds": ["partner"], "partner_type": "distributor"}
    )

    events = published(application)

    assert [type(e.data) for e in events] == [
        OrganizationRegistered,
        PartnerRegistered,
        OrganizationProfileUpdated,
        OrganizationProfileUpdated,
        PartnerRegistered,
    ]
    registered, partner, demoted, _, promoted = (e.data for e in events)
    assert (registered.name, partner.partner_type, promoted.partner_type) == (
        "Resell Ltd",
        "reseller",
        "distributor",
    )
    assert (demoted.changed, demoted.industry, demoted.partner_type, demoted.name) == (
        ["industry", "kinds", "partner_type"],
        "Retail",
        None,
        None,
    )
    assert {e.data.topic() for e in events} == {"crm.contacts.organization.v1"}


def test_published_events_parse_with_the_contract_registry_and_keep_their_id(
    application: ContactsApplication,
) -> None:
    customer_id = register(application, emails=[{"address": "a@b.io"}])
    application.erase_customer(customer_id, command())

    for event in published(application):
        assert registry.parse(event.to_json()) == event
    assert published(application) == published(application)


def test_custom_field_definitions_stay_private(application: ContactsApplication) -> None:
    application.define_custom_field(
        RecordKind.PERSON, "tier", {"type": "string", "label": "Tier"}, command()
    )
    assert published(application) == []


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (domain.Channel, customer_v1.InteractionChannel),
        (domain.Direction, customer_v1.InteractionDirection),
        (domain.ContactChannel, customer_v2.ContactChannel),
        (domain.ConsentPurpose, customer_v2.ConsentPurpose),
        (domain.ConsentSource, customer_v2.ConsentSource),
        (domain.Origin, customer_v2.RegistrationOrigin),
        (domain.OrganizationKind, organization.OrganizationKind),
        (domain.PartnerType, organization.PartnerType),
        (domain.AddressType, organization.AddressType),
    ],
)
def test_domain_vocabularies_match_the_contract(ours: type, theirs: type) -> None:
    assert {m.value for m in ours} == {m.value for m in theirs}
