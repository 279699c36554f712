"""Invoice series in the application: a series per year, and snapshots that keep it quick to load
(the commerce read model's guards are tested on PostgreSQL: integration/test_commerce_views.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from uuid import uuid4

import pytest

from crm_sales.application import SalesApplication
from crm_sales.commerce.application.commands import SERIES_SNAPSHOT_INTERVAL
from crm_sales.commerce.domain.billing import InvoiceSeries

pytestmark = pytest.mark.unit


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
