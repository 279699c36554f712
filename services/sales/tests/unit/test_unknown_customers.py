"""A deal naming a customer sales has not heard of is flagged (on the in-memory store; clearing
it when contacts registers the customer reads the index: integration/test_unknown_customers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_events.sales.leads import LeadCustomerUnknown
from crm_events.sales.opportunities import (
    OpportunityCustomerFlagCleared,
    OpportunityCustomerUnknown,
)
from crm_platform.known_customers import KnownCustomer
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from .test_pipeline_api import ADA, DEAL, READ, WRITE, key, lead, opportunity, post
from .test_pipeline_contracts import published

pytestmark = pytest.mark.unit


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture
def client(application: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(application)) as test_client:
        yield test_client


def test_a_deal_naming_an_unheard_of_customer_is_flagged_and_one_naming_a_known_one_is_not(
    client: TestClient, application: SalesApplication
) -> None:
    stranger, customer = uuid4(), uuid4()
    application.save(KnownCustomer.heard_of(customer))

    flagged = opportunity(client, {**DEAL, "contact_id": str(stranger)})
    known = opportunity(client, {**DEAL, "contact_id": str(customer)})
    alone = opportunity(client)

    assert (flagged["customer_known"], known["customer_known"], alone["customer_known"]) == (
        False,
        True,
        True,
    )
    events = [e for e in published(application) if isinstance(e, OpportunityCustomerUnknown)]
    assert [(str(e.opportunity_id), e.customer_id) for e in events] == [(flagged["id"], stranger)]


def test_naming_a_known_customer_instead_clears_the_flag(
    client: TestClient, application: SalesApplication
) -> None:
    customer = uuid4()
    application.save(KnownCustomer.heard_of(customer))
    deal = opportunity(client, {**DEAL, "contact_id": str(uuid4())})

    changed = client.patch(
        f"/opportunities/{deal['id']}",
        json={"contact_id": str(customer)},
        headers={**WRITE, **key()},
    ).json()

    assert changed["customer_known"] is True
    cleared = [e for e in published(application) if isinstance(e, OpportunityCustomerFlagCleared)]
    assert [str(e.opportunity_id) for e in cleared] == [deal["id"]]


def test_a_lead_converted_into_a_new_customer_is_not_flagged(client: TestClient) -> None:
    captured = lead(client, ADA)
    converted = post(client, f"/leads/{captured['id']}/convert", DEAL)

    deal = client.get(converted.headers["Location"], headers=READ).json()
    assert deal["customer_known"] is True


def test_a_lead_naming_an_unheard_of_customer_is_flagged(
    client: TestClient, application: SalesApplication
) -> None:
    customer, stranger = uuid4(), uuid4()
    application.save(KnownCustomer.heard_of(customer))

    flagged = lead(client, {**ADA, "customer_id": str(stranger)})
    known = lead(client, {**ADA, "customer_id": str(customer)})

    assert (flagged["customer_known"], known["customer_known"]) == (False, True)
    events = [e for e in published(application) if isinstance(e, LeadCustomerUnknown)]
    assert [(str(e.lead_id), e.customer_id) for e in events] == [(flagged["id"], stranger)]
