from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_contacts.domain.csv_rows import (
    ORGANIZATIONS,
    PEOPLE,
    InvalidHeader,
    Problem,
    ValidRow,
    join,
    protect,
    split,
    unprotect,
)
from crm_contacts.domain.custom_fields import FieldDefinition, FieldType
from crm_platform.text import clean

pytestmark = pytest.mark.unit

DEFINITIONS = {
    "tier": FieldDefinition("tier", FieldType.ENUM, "Tier", options=("gold", "silver")),
    "score": FieldDefinition("score", FieldType.NUMBER, "Score"),
    "vip": FieldDefinition("vip", FieldType.BOOLEAN, "VIP"),
}
ACME = uuid4()


def parse(row: dict[str, str], lookup: Any = lambda name: [ACME] if name == "Acme" else []) -> Any:
    header = PEOPLE.header(list(row), DEFINITIONS)
    return header.parse(list(row.values()), lookup)


def test_a_row_becomes_the_normalized_profile_of_a_registration() -> None:
    row = parse(
        {
            "External_ID": "crm-1",
            "given_name": " Ada ",
            "family_name": "Lovelace",
            "email.work": "ADA@example.org; ada@home.example",
            "phone": "0044 20 7946 0958",
            "street": "12 St James's Square\nFlat 3",
            "city": "London",
            "country": "gb",
            "organization": "Acme",
            "job_title": "Analyst",
            "birthday": "--12-10",
            "tags": "VIP; donor",
            "custom.tier": "gold",
            "custom.vip": "yes",
        }
    )

    assert isinstance(row, ValidRow)
    assert row.external_id == "crm-1"
    profile = row.profile
    assert (profile["given_name"], profile["family_name"]) == ("Ada", "Lovelace")
    assert [(e["address"], e["type"], e["primary"]) for e in profile["emails"]] == [
        ("ada@example.org", "work", True),
        ("ada@home.example", "work", False),
    ]
    assert profile["phones"][0]["number"] == "+442079460958"
    assert profile["addresses"][0]["lines"] == ["12 St James's Square", "Flat 3"]
    assert profile["addresses"][0]["country"] == "GB"
    assert profile["roles"] == [
        {
            "organization_id": str(ACME),
            "title": "Analyst",
            "department": None,
            "start": None,
            "end": None,
        }
    ]
    assert profile["important_dates"][0]["date"] == {"month": 12, "day": 10, "year": None}
    assert profile["tags"] == ["donor", "vip"]
    assert profile["custom_fields"] == {"tier": "gold", "vip": True}


def test_every_faulty_column_of_a_row_is_reported_in_column_order() -> None:
    """Columns the file lacks (here: street, which an address needs) come last."""
    problems = parse(
        {
            "family_name": "",
            "email": "not-an-address",
            "city": "London",
            "birthday": "10/12/1815",
            "custom.score": "many",
            "organization": "Nowhere Inc",
        }
    )

    assert problems == [
        Problem("family_name", "is required"),
        Problem(
            "email",
            "emails.0.address: not an e-mail address: An email address must have an @-sign.",
        ),
        Problem("birthday", "must be a date YYYY-MM-DD, or --MM-DD without a year"),
        Problem("custom.score", "must be a number"),
        Problem("organization", "no organization has this name"),
        Problem("street", "must be 1 to 4 lines of street address"),
    ]


def test_an_ambiguous_organization_name_asks_for_its_id() -> None:
    problems = parse(
        {"family_name": "Lovelace", "organization": "Acme"}, lambda name: [uuid4(), uuid4()]
    )

    assert problems == [
        Problem("organization", "2 organizations have this name: give organization_id instead")
    ]


def test_a_row_with_more_cells_than_the_header_is_refused_whole() -> None:
    header = PEOPLE.header(["family_name"], DEFINITIONS)

    assert header.parse(["Lovelace", "extra"]) == [Problem("row", "has 2 cells; the header has 1")]
    assert isinstance(header.parse([]), list)  # a row of blanks lacks the family name


def test_a_rule_spanning_columns_is_reported_against_its_column() -> None:
    header = ORGANIZATIONS.header(["name", "kinds", "partner_type"], {})

    assert header.parse(["Acme", "partner", ""]) == [
        Problem("partner_type", "a partner is a distributor or a reseller")
    ]
    assert isinstance(header.parse(["Acme", "partner; supplier", "reseller"]), ValidRow)


def test_a_header_lists_every_problem_at_once() -> None:
    with pytest.raises(InvalidHeader) as refused:
        PEOPLE.header(["given_name", "Surname", "email", "EMAIL", "custom.shoe_size"], DEFINITIONS)

    assert set(refused.value.problems) == {
        Problem("surname", "unknown column"),
        Problem("custom.shoe_size", "unknown column"),
        Problem("email", "appears twice"),
        Problem("family_name", "required column missing"),
    }


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("Love\x00lace", "contains a NUL character (U+0000)"),
        ("Love\x1b[31mlace", "contains a control character (U+001B)"),
        ("Love\x85lace", "contains a control character (U+0085)"),
        ("\ud800", "contains a lone surrogate (U+D800)"),
    ],
)
def test_a_cell_with_unsafe_text_is_refused_naming_its_column(cell: str, reason: str) -> None:
    assert parse({"family_name": cell, "given_name": "Ada"}) == [Problem("family_name", reason)]


def test_cells_may_hold_line_breaks_and_are_nfc_normalized() -> None:
    row = parse(
        {
            "family_name": "Zoe\u0308",
            "street": "1 Main St\r\n\tFlat 2",
            "city": "Paris",
            "country": "FR",
        }
    )
    assert isinstance(row, ValidRow)
    assert row.profile["family_name"] == "Zo\u00eb"


@pytest.mark.parametrize(
    ("name", "column", "reason"),
    [
        ("x" * 2000, "x" * 40 + "…", "is longer than 1024 characters"),
        ("family\x00name", "family\\u0000name", "contains a NUL character (U+0000)"),
        ("family\nname", "family\\u000aname", "contains a tab or line break (U+000A)"),
    ],
)
def test_a_column_name_too_long_or_unsafe_is_refused(name: str, column: str, reason: str) -> None:
    with pytest.raises(InvalidHeader) as refused:
        PEOPLE.header(["family_name", name], DEFINITIONS)
    [problem] = refused.value.problems
    assert problem.column == column
    assert problem.message.startswith(reason)


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("+4930123456", "+4930123456"),
        ("-42.5", "-42.5"),
        ("Ada", "Ada"),
        ("", ""),
    ],
)
def test_cells_that_start_like_formulas_are_exported_inert(cell: str, exported: str) -> None:
    assert protect(cell) == exported
    assert unprotect(protect(cell)) == cell


# --- an exported row imports as the same record ------------------------------------------------

# NFC: every boundary (the API, an import) stores text normalized so.
names = st.text(st.characters(categories=["L"]), min_size=1, max_size=20).map(clean)
words = st.text(st.characters(categories=["L", "Nd"]), min_size=1, max_size=12).map(clean)
hosts = st.from_regex(r"[a-z][a-z0-9]{0,11}", fullmatch=True)  # IDNA has rules of its own
emails = st.builds(lambda user, host: f"{user}@{host}.example".lower(), hosts, hosts)
phones = st.integers(1_000_000, 9_999_999).map(lambda n: f"+4930{n}")  # valid Berlin numbers
people = st.fixed_dictionaries(
    {
        "given_name": names,
        "family_name": names,
        "emails": st.lists(
            st.builds(
                lambda a, t: {"address": a, "type": t}, emails, st.sampled_from(["work", "home"])
            ),
            max_size=3,
            unique_by=lambda e: e["address"],
        ),
        "phones": st.lists(
            st.builds(lambda n: {"number": n, "type": "mobile"}, phones),
            max_size=2,
            unique_by=lambda p: p["number"],
        ),
        "addresses": st.lists(
            st.builds(
                lambda street, city: {"lines": [street], "locality": city, "country": "FR"},
                words,
                names,
            ),
            max_size=1,
        ),
        "tags": st.lists(words.map(str.lower), max_size=3, unique=True),
        "custom_fields": st.fixed_dictionaries(
            {}, optional={"tier": st.sampled_from(["gold", "silver"]), "vip": st.booleans()}
        ),
    }
)


@given(people)
def test_an_exported_person_imports_as_the_same_profile(raw: dict[str, Any]) -> None:
    registered = PEOPLE.sections.initial(raw, DEFINITIONS)
    record_id = UUID(int=7)
    columns = PEOPLE.export_columns(DEFINITIONS)

    cells = PEOPLE.export_row(record_id, registered, columns)
    imported = PEOPLE.header(columns, DEFINITIONS).parse(cells)

    assert isinstance(imported, ValidRow), imported
    assert imported.external_id == str(record_id)
    expected = {**registered, "emails": _primary_first_by_type(registered["emails"])}
    assert imported.profile == expected


@given(st.lists(words, max_size=5))
def test_multi_valued_cells_split_what_join_wrote(values: list[str]) -> None:
    assert split(join(values)) == values


def _primary_first_by_type(emails: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An export groups e-mails by type (a column each, work before home); the first becomes
    the primary one."""
    order = {"work": 0, "home": 1, "other": 2}
    ordered = sorted(emails, key=lambda e: order[e["type"]])
    return [{**e, "primary": index == 0} for index, e in enumerate(ordered)]
