"""The value types of request models: what they accept, what they refuse, what they document."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from crm_platform.values import MINOR_UNITS
from crm_platform.web.types import (
    Amount,
    CalendarDate,
    CurrencyCode,
    Instant,
    JsonScalar,
    Omissible,
)

pytestmark = pytest.mark.unit


def refusal(kind: Any, value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(kind).validate_python(value)
    return caught.value.errors()[0]["msg"]


def test_an_instant_is_aware_and_within_the_sane_range_in_utc() -> None:
    accept = TypeAdapter(Instant).validate_python
    plus_two = timezone(timedelta(hours=2))

    assert accept("2025-03-01T09:30:00+02:00") == datetime(2025, 3, 1, 9, 30, tzinfo=plus_two)
    # Before 1900 in its own offset, but not in UTC: the range is about the moment.
    assert accept("1899-12-31T23:00:00-02:00") == datetime(1900, 1, 1, 1, tzinfo=UTC)
    assert "timezone" in refusal(Instant, "2025-03-01T09:30:00")
    for extreme in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2200-01-01T00:00Z"):
        assert "from 1900-01-01 to before 2200-01-01" in refusal(Instant, extreme)


def test_a_calendar_date_is_within_the_sane_range() -> None:
    assert TypeAdapter(CalendarDate).validate_python("2199-12-31") == date(2199, 12, 31)
    for extreme in ("0001-01-01", "9999-12-31", "1899-12-31"):
        assert "from 1900-01-01" in refusal(CalendarDate, extreme)


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "BTC", "ZZZ"])
def test_a_currency_code_is_one_money_is_kept_in(code: str) -> None:
    assert "ISO 4217" in refusal(CurrencyCode, code)


def test_the_currencies_include_those_with_unusual_minor_units() -> None:
    adapter = TypeAdapter(CurrencyCode)
    assert [adapter.validate_python(c) for c in ("EUR", "JPY", "KWD", "CLF")] == [
        "EUR",
        "JPY",
        "KWD",
        "CLF",
    ]
    assert (MINOR_UNITS["JPY"], MINOR_UNITS["KWD"]) == (0, 3)
    assert "pattern" in refusal(CurrencyCode, "eur")


@pytest.mark.parametrize("value", ["1e15", "-1e15", "1e400", 1e308, "NaN", "Infinity", "1e-400"])
def test_an_amount_is_finite_bounded_and_no_finer_than_four_places(value: Any) -> None:
    refusal(Amount, value)


def test_an_amount_keeps_its_exact_decimal_value() -> None:
    assert TypeAdapter(Amount).validate_python("999999999999999.9999") == Decimal(
        "999999999999999.9999"
    )


class Patch(BaseModel):
    name: Omissible[str] = None
    note: str | None = None


def test_an_omissible_field_may_be_left_out_but_not_nulled() -> None:
    assert Patch.model_validate({}).model_fields_set == set()
    assert Patch.model_validate({"name": "Ada", "note": None}).name == "Ada"
    with pytest.raises(ValidationError) as caught:
        Patch.model_validate({"name": None})
    assert [(e["loc"], e["msg"]) for e in caught.value.errors()] == [
        (("name",), "Value error, cannot be null; leave the field out to keep its value")
    ]


def test_an_omissible_field_is_documented_without_null() -> None:
    properties = Patch.model_json_schema()["properties"]
    assert properties["name"]["type"] == "string"
    assert {"type": "null"} in properties["note"]["anyOf"]


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**400, float("nan"), float("inf")])
def test_a_json_scalar_is_a_number_every_parser_reads_alike(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(dict[str, JsonScalar]).validate_python({"score": value})
    assert [error["loc"] for error in caught.value.errors()] == [("score",)]


def test_a_json_scalar_keeps_exact_integers_and_the_other_scalars() -> None:
    values = {"n": 2**53 - 1, "x": 1.5, "b": True, "s": "text", "none": None}
    assert TypeAdapter(dict[str, JsonScalar]).validate_python(values) == values
