"""Reactions of the pipeline to marketing's responses and contacts' interactions, on PostgreSQL
(the reactions find the leads they change in the pipeline index)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from crm_events import Event
from crm_events.contacts.customer_v2 import CustomerContactedV2
from crm_events.marketing import CampaignResponseKind, CampaignResponseReceived
from crm_events.personal import Sealed, new_key, seal, unseal
from crm_platform.privacy import KeyNotYetKnown
from crm_platform.relay import integration_event
from crm_sales.application import SalesApplication
from crm_sales.pipeline.application.commands import (
    Command,
    LeadDetails,
    LeadFilter,
    OpportunityDraft,
)
from crm_sales.pipeline.domain.leads import LeadSource
from crm_sales.pipeline.messaging import react

pytestmark = pytest.mark.integration

CUSTOMER = UUID("0b6f2a52-8a0e-4d5c-9a27-6f3c1e9d4b10")


class Keys:
    """The keyring as the worker's reactions use it (synchronously)."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}

    def seal(self, value: Any, subject: UUID) -> Sealed:
        key = self.keys.setdefault(subject, new_key())
        assert key is not None
        return seal(value, key=key, subject=subject)

    def unseal_sync(self, sealed: Sealed | None) -> Any:
        if sealed is None:
            return None
        if sealed.kid not in self.keys:
            raise KeyNotYetKnown(sealed.kid)
        key = self.keys[sealed.kid]
        return None if key is None else unseal(sealed, key)


@pytest.fixture
def app(empty_app: SalesApplication) -> SalesApplication:
    return empty_app


@pytest.fixture
def keys() -> Keys:
    return Keys()


def published(data: Any, aggregate_id: UUID) -> Event[Any]:
    origin = SimpleNamespace(
        originator_id=aggregate_id, originator_version=1, timestamp=datetime.now(UTC)
    )
    return integration_event(data, origin, None, source_service="test")


def response(keys: Keys, **overrides: Any) -> Event[Any]:
    response_id = overrides.pop("response_id", uuid4())
    subject = overrides.get("customer_id") or response_id
    fields: dict[str, Any] = {
        "campaign_id": uuid4(),
        "response_id": response_id,
        "kind": CampaignResponseKind.FORM_SUBMISSION,
        "name": keys.seal({"given_name": "Grace", "family_name": "Hopper"}, subject),
        "email": keys.seal("grace@example.com", subject),
        "company": keys.seal("Compilers & Co", subject),
        "answers": {
            "country": "us",
            "company_size": "40",
            "interest": "premium",
            "bad key": 1,
            "industry": "Software",
        },
        "responded_at": datetime.now(UTC),
        **overrides,
    }
    data = CampaignResponseReceived(**fields)
    return published(data, data.campaign_id)


def position(offset: int) -> Tracking:
    return Tracking("sales.pipeline|topic|0", offset)


def all_leads(app: SalesApplication) -> list[Any]:
    return [app.get_lead(e.lead_id) for e in app.list_leads(LeadFilter())]


def test_a_response_of_an_unknown_respondent_becomes_a_lead_once(
    app: SalesApplication, keys: Keys
) -> None:
    event = response(keys)

    react(keys, app, event, position(1))
    react(keys, app, event, position(2))  # republished by marketing's relay: a new offset

    (lead,) = all_leads(app)
    assert (lead.source, lead.given_name, lead.email, lead.company) == (
        LeadSource.CAMPAIGN,
        "Grace",
        "grace@example.com",
        "Compilers & Co",
    )
    assert (lead.country, lead.company_size, lead.industry) == ("US", 40, "Software")
    assert lead.fields == {"interest": "premium"}  # "bad key" fits no custom field name
    assert (lead.campaign_id, lead.response_id) == (event.data.campaign_id, event.data.response_id)
    assert app.processed(position(1))


def test_answers_that_fit_no_attribute_are_dropped_not_fatal(
    app: SalesApplication, keys: Keys
) -> None:
    react(
        keys, app, response(keys, answers={"country": "Narnia", "company_size": "-3"}), position(1)
    )
    (lead,) = all_leads(app)
    assert (lead.country, lead.company_size) == (None, None)


def test_an_erased_respondent_leaves_no_lead(app: SalesApplication, keys: Keys) -> None:
    event = response(keys)
    keys.keys[event.data.response_id] = None  # PersonalDataKeyDestroyed arrived first

    react(keys, app, event, position(1))

    assert all_leads(app) == []


def test_a_response_before_its_key_is_retried_later(app: SalesApplication, keys: Keys) -> None:
    event = response(keys)
    keys.keys.clear()
    with pytest.raises(KeyNotYetKnown):
        react(keys, app, event, position(1))
    assert not app.processed(position(1))


def test_a_known_customers_response_and_interactions_score_its_open_lead(
    app: SalesApplication, keys: Keys
) -> None:
    details = LeadDetails(family_name="Lovelace", customer_id=CUSTOMER)
    lead = app.capture_lead(Command(uuid4(), "f", "bob"), details).value
    contacted = CustomerContactedV2(
        customer_id=CUSTOMER,
        interaction_id=uuid4(),
        channel="phone",
        direction="inbound",
        summary=keys.seal("Asked for a quote", CUSTOMER),
        actor="carol",
        occurred_at=datetime.now(UTC),
    )

    react(keys, app, response(keys, customer_id=CUSTOMER), position(1))
    react(keys, app, published(contacted, CUSTOMER), position(2))

    scored = app.get_lead(lead.id)
    assert [r.rule_id for r in scored.reasons] == ["inbound-contact", "campaign-response"]
    assert len(all_leads(app)) == 1


def test_a_call_back_from_an_owned_customer_is_the_owners_task_not_a_lead(
    app: SalesApplication, keys: Keys
) -> None:
    owned, prospect = uuid4(), uuid4()
    draft = OpportunityDraft(
        name="Renewal",
        amount=Decimal("1200"),
        currency="EUR",
        expected_close_date=date.today() + timedelta(days=30),
        owner="carol",
        contact_id=owned,
    )
    app.open_opportunity(Command(uuid4(), "f", "carol"), draft)
    call_back = CampaignResponseKind.CALL_BACK_REQUEST

    react(keys, app, response(keys, customer_id=owned, kind=call_back), position(1))
    react(keys, app, response(keys, customer_id=prospect, kind=call_back), position(2))

    assert app.owner_of_customer(owned) == "carol"
    assert [lead.customer_id for lead in all_leads(app)] == [prospect]  # the owner calls back
    assert app.processed(position(1)) and app.processed(position(2))
