"""Sales' part of a subject-access request, in memory: an erased person is answered with nothing,
without looking for their records (the search over the read models and the log is tested on
PostgreSQL: integration/test_subject_access.py)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from crm_events.erasure import ErasedData, ErasureMethod
from crm_platform.erasure import confirm_erasure
from crm_sales.application import SalesApplication
from crm_sales.subject_access import COMMERCE, held_about

pytestmark = pytest.mark.unit


@pytest.fixture
def app() -> Iterator[SalesApplication]:
    application = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def test_a_person_sales_erased_is_answered_with_nothing(app: SalesApplication) -> None:
    customer = uuid4()
    erased = [ErasedData(kind="lead", method=ErasureMethod.KEY_DESTROYED)]
    app.save(confirm_erasure(app, customer, erased))

    assert held_about(app, customer) == {}


def test_quotes_orders_and_invoices_are_answered_under_their_own_kinds() -> None:
    assert sorted(COMMERCE.values()) == ["invoice", "order", "quote"]
