"""Invoice series in the application: a series per year, snapshots that keep it quick to load, and
the read model's guard against writers that read an old position."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from crm_sales.application import SalesApplication
from crm_sales.application.commerce import SERIES_SNAPSHOT_INTERVAL
from crm_sales.application.commerce_views import InvoiceQuery, InvoiceRow, MemoryViewStore
from crm_sales.domain.billing import InvoiceSeries, InvoiceStatus

pytestmark = pytest.mark.unit

INVOICE = uuid4()


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


def test_a_series_is_snapshotted_as_it_grows_and_loads_from_its_snapshot(
    application: SalesApplication,
) -> None:
    series = InvoiceSeries.open("INV-2025")
    for _ in range(SERIES_SNAPSHOT_INTERVAL):
        series.assign(uuid4())
        application.save(series)

    assert application.snapshots is not None
    [snapshot] = application.snapshots.get(series.id)
    assert snapshot.originator_version == SERIES_SNAPSHOT_INTERVAL
    reloaded = application.repository.get(series.id)
    assert (reloaded.version, reloaded.last_number) == (series.version, SERIES_SNAPSHOT_INTERVAL)
    assert reloaded.assign(uuid4()) == "INV-2025-000101"


def test_each_year_has_a_series_of_its_own() -> None:
    assert InvoiceSeries.code_for(date(2025, 12, 31)) == "INV-2025"
    assert InvoiceSeries.code_for(date(2026, 1, 1)) == "INV-2026"
    first_of_2026 = InvoiceSeries.open(InvoiceSeries.code_for(date(2026, 1, 1)))
    assert first_of_2026.assign(uuid4()) == "INV-2026-000001"


def row(version: int, balance: str) -> InvoiceRow:
    return InvoiceRow(
        invoice_id=INVOICE,
        number="INV-2025-000001",
        customer_id=INVOICE,
        account_id=None,
        order_id=INVOICE,
        currency="EUR",
        total=Decimal("100.00"),
        amount_paid=Decimal("100.00") - Decimal(balance),
        balance_due=Decimal(balance),
        status=InvoiceStatus.PARTIALLY_PAID,
        issued_on=date(2025, 3, 14),
        due_date=date(2025, 4, 13),
        version=version,
    )


def test_the_read_model_moves_only_from_the_position_a_writer_read_and_never_back() -> None:
    store = MemoryViewStore()

    assert store.write([row(3, "40.00")], read_from=0, position=7)
    assert not store.write([row(2, "90.00")], read_from=0, position=5)  # read before the first
    assert store.write([row(2, "90.00")], read_from=7, position=9)  # an older version of the row

    assert store.position() == 9
    [listed] = store.invoices(InvoiceQuery(), today=datetime.now(UTC).date())
    assert listed.balance_due == Decimal("40.00")
