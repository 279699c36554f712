"""Custom field definitions and the values they admit."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_contacts.domain import (
    CustomFieldCatalog,
    FieldDefinition,
    FieldType,
    InvalidState,
    RecordKind,
    RuleViolation,
    catalog_id,
)
from crm_contacts.domain.custom_fields import custom_values, typed_values

pytestmark = pytest.mark.unit


def definition(kind: FieldType, *options: str) -> FieldDefinition:
    return FieldDefinition("field", kind, "Field", options=options)


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        (FieldType.STRING, "  blue ", "blue"),
        (FieldType.NUMBER, 42, "42"),
        (FieldType.NUMBER, 2.5, "2.5"),
        (FieldType.NUMBER, "1E+3", "1000"),
        (FieldType.NUMBER, "-0.10", "-0.1"),
        (FieldType.BOOLEAN, True, True),
        (FieldType.BOOLEAN, "Yes", True),
        (FieldType.BOOLEAN, "0", False),
        (FieldType.DATE, "2024-02-29", "2024-02-29"),
    ],
)
def test_values_are_kept_in_canonical_form(kind: FieldType, raw: Any, value: Any) -> None:
    assert definition(kind).value("custom_fields.field", raw) == value


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (FieldType.STRING, ""),
        (FieldType.STRING, 12),
        (FieldType.STRING, "x" * 1001),
        (FieldType.NUMBER, "twelve"),
        (FieldType.NUMBER, "NaN"),
        (FieldType.NUMBER, True),
        (FieldType.BOOLEAN, "maybe"),
        (FieldType.BOOLEAN, 1),
        (FieldType.DATE, "2023-02-29"),
        (FieldType.DATE, 20240101),
        (FieldType.ENUM, "purple"),
    ],
)
def test_a_value_of_the_wrong_type_names_its_field(kind: FieldType, raw: Any) -> None:
    with pytest.raises(RuleViolation) as raised:
        definition(kind, "red", "green").value("custom_fields.field", raw)
    assert raised.value.field == "custom_fields.field"


def test_only_defined_fields_take_values_and_null_means_absent() -> None:
    definitions = {"field": definition(FieldType.ENUM, "red")}

    assert custom_values("custom_fields", {"field": "red", "gone": None}, definitions) == {
        "field": "red"
    }
    with pytest.raises(RuleViolation) as raised:
        custom_values("custom_fields", {"other": "x"}, definitions)
    assert raised.value.field == "custom_fields.other"


@pytest.mark.parametrize(
    ("name", "raw", "field"),
    [
        ("Shoe Size", {"type": "number", "label": "Shoe size"}, "name"),
        ("size", {"type": "colour", "label": "Size"}, "type"),
        ("size", {"type": "enum", "label": "Size"}, "options"),
        ("size", {"type": "enum", "label": "Size", "options": ["S", "S"]}, "options"),
        ("size", {"type": "string", "label": "Size", "options": ["S"]}, "options"),
        ("size", {"type": "string", "label": " "}, "label"),
    ],
)
def test_a_definition_breaking_a_rule_names_its_field(
    name: str, raw: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleViolation) as raised:
        FieldDefinition.parse(name, raw)
    assert raised.value.field == field


def test_a_catalog_defines_revises_and_refuses_changes_that_would_orphan_values() -> None:
    catalog = CustomFieldCatalog.open(RecordKind.PERSON)
    size = {"type": "enum", "label": "Size", "options": ["S", "M"]}

    defined, changed = catalog.define("size", size)
    assert changed and defined.options == ("S", "M")
    assert catalog.define("size", size) == (defined, False)
    revised, changed = catalog.define(
        "size", {**size, "label": "T-shirt", "options": ["S", "M", "L"]}
    )
    assert changed and (revised.label, revised.options) == ("T-shirt", ("S", "M", "L"))

    with pytest.raises(InvalidState, match="options in use"):
        catalog.define("size", {**size, "options": ["S"]})
    with pytest.raises(InvalidState, match="for good"):
        catalog.define("size", {"type": "string", "label": "Size"})
    assert catalog.id == catalog_id(RecordKind.PERSON) != catalog_id(RecordKind.ORGANIZATION)
    assert [type(e).__name__ for e in catalog.collect_events()] == [
        "Opened",
        "FieldDefined",
        "FieldDefined",
    ]


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_numbers_round_trip_exactly(number: Any) -> None:
    field = definition(FieldType.NUMBER)
    canonical = field.value("f", number)
    assert field.value("f", canonical) == canonical
    assert type(number)(canonical) == number


def test_number_fields_are_shown_as_numbers_and_the_others_as_kept() -> None:
    definitions = {
        "score": FieldDefinition("score", FieldType.NUMBER, "Score"),
        "ratio": FieldDefinition("ratio", FieldType.NUMBER, "Ratio"),
        "big": FieldDefinition("big", FieldType.NUMBER, "Big"),
        "code": FieldDefinition("code", FieldType.STRING, "Code"),
        "vip": FieldDefinition("vip", FieldType.BOOLEAN, "VIP"),
    }
    stored = custom_values(
        "custom_fields",
        {"score": "42", "ratio": -0.125, "big": 10**30, "code": "007", "vip": True},
        definitions,
    )

    shown = typed_values({**stored, "gone": "12"}, definitions)

    assert shown == {
        "score": 42,
        "ratio": -0.125,
        "big": 10**30,  # integers exactly, however large
        "code": "007",  # digits in a text field stay text
        "vip": True,
        "gone": "12",  # a value of no definition stays as kept
    }
    assert [type(shown[n]) for n in ("score", "ratio", "big")] == [int, float, int]
