"""Value types of request models and query parameters: sane instants, dates, amounts, currencies,
numbers every JSON parser reads alike, and PATCH fields that may be left out but not nulled.

Each refuses, at validation time and naming the field, a value the code behind would crash on or
store for good: an instant whose conversion to UTC overflows (``0001-01-01T00:00:00+14:00``), a
naive time whose moment nobody knows, an amount of 5000 digits, a currency nobody pays in, a null
for a detail that must have a value.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from ..values import EARLIEST, INSTANT_RANGE, LATEST, MAX_AMOUNT, MINOR_UNITS, within_range

# Finer than any currency's minor units and any quantity a price list holds.
AMOUNT_DECIMAL_PLACES = 4
MAX_JSON_INTEGER = 2**53 - 1
T = TypeVar("T")


def _sane_instant(value: datetime) -> datetime:
    if not within_range(value):
        raise ValueError(f"must be {INSTANT_RANGE}")
    return value


def _sane_date(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"must be {INSTANT_RANGE}")
    return value


def _currency(value: str) -> str:
    if value not in MINOR_UNITS:
        raise ValueError("must be an ISO 4217 code of a currency money is kept in, such as EUR")
    return value


Instant = Annotated[
    AwareDatetime,  # refuses a naive time: "input should have timezone info"
    AfterValidator(_sane_instant),
    Field(
        description=f"RFC 3339 with a UTC offset, {INSTANT_RANGE}",
        examples=["2025-03-01T09:30:00Z"],
    ),
]
CalendarDate = Annotated[
    date, AfterValidator(_sane_date), Field(description=f"YYYY-MM-DD, {INSTANT_RANGE}")
]
CurrencyCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code", examples=["EUR"]),
    AfterValidator(_currency),
]
Amount = Annotated[
    Decimal,
    Field(
        gt=-MAX_AMOUNT,
        lt=MAX_AMOUNT,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        allow_inf_nan=False,
        description=f"Decimal string, less than {MAX_AMOUNT:,.0f} in size",
        examples=["12000.00"],
    ),
]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_JSON_INTEGER:
        raise ValueError(f"must be an integer from -{MAX_JSON_INTEGER} to {MAX_JSON_INTEGER}")
    return value


# Numbers every JSON parser reads alike (I-JSON, RFC 7493): a larger integer is not exact in most
# of them (nor storable in a read model's 64-bit integers); NaN and infinities are not JSON at all.
# One check after the union, so a refusal is one error naming the field.
JsonSafe = AfterValidator(_json_safe)
JsonScalar = Annotated[str | bool | int | float | None, JsonSafe]


class NotNull:
    """Refuses an explicit null; the field's default (None: "left out") is never validated.

    The documented schema drops the null its ``X | None`` annotation would allow.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(_not_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        kept = [branch for branch in json_schema.get("anyOf", ()) if branch != {"type": "null"}]
        if len(kept) != 1:
            return json_schema
        narrowed: JsonSchemaValue = kept[0] | {k: v for k, v in json_schema.items() if k != "anyOf"}
        return narrowed


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep its value")
    return value


# A PATCH body's field: left out, the value stays; sent, it must be a value (``= None`` default).
Omissible = Annotated[T | None, NotNull()]
