"""A person's profile: each section parsed, normalized and validated; patches merged (RFC 7396)."""

from __future__ import annotations

from datetime import date, time
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_contacts.domain import (
    PERSON,
    ContactChannel,
    EmailAddress,
    EmailType,
    PersonProfile,
    PhoneNumber,
    RuleViolation,
    Weekday,
)
from crm_contacts.domain.codec import from_json, to_json
from crm_contacts.domain.contact_points import contact_points
from crm_contacts.domain.custom_fields import FieldDefinition, FieldType
from crm_contacts.domain.sections import merge_patch
from crm_contacts.domain.values import normalize_tags

pytestmark = pytest.mark.unit

SHOE_SIZE = FieldDefinition("shoe_size", FieldType.NUMBER, "Shoe size")
DEFINITIONS = {"shoe_size": SHOE_SIZE}


def profile(**sections: Any) -> PersonProfile:
    """A person's profile from sections given as request JSON."""
    return PERSON.apply(
        PersonProfile(), PERSON.initial({"family_name": "Lovelace", **sections}, DEFINITIONS)
    )


def violation(**sections: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as raised:
        profile(**sections)
    return raised.value


def test_a_profile_of_only_a_family_name_has_every_section_empty() -> None:
    assert profile() == PersonProfile(family_name="Lovelace")


def test_names_are_trimmed_and_the_family_name_is_required() -> None:
    assert profile(given_name="  Ada ").given_name == "Ada"
    assert profile(given_name="  ").given_name is None
    assert violation(family_name=" ").field == "family_name"
    with pytest.raises(RuleViolation, match="required"):
        PERSON.initial({"given_name": "Ada"}, {})


def test_contact_points_are_normalized_with_the_first_primary_unless_one_is_flagged() -> None:
    person = profile(
        emails=[{"address": " Ada@Example.ORG ", "type": "work"}, {"address": "a@b.io"}],
        phones=[{"number": "0044 (20) 7946-0958"}, {"number": "+1 415 555 0100", "primary": True}],
        addresses=[
            {
                "lines": ["12  Baker St"],
                "locality": "London",
                "country": "gb",
                "postal_code": "nw1 6xe",
            }
        ],
    )

    assert person.emails == (
        EmailAddress("ada@example.org", EmailType.WORK, primary=True),
        EmailAddress("a@b.io"),
    )
    assert [(p.number, p.primary) for p in person.phones] == [
        ("+442079460958", False),
        ("+14155550100", True),
    ]
    address = person.addresses[0]
    assert (address.country, address.postal_code, address.primary) == ("GB", "NW1 6XE", True)


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"emails": [{"address": "ada.example.org"}]}, "emails.0.address"),
        ({"emails": [{"address": "a@b.io"}, {"address": "A@B.io"}]}, "emails.1"),
        (
            {
                "emails": [
                    {"address": "a@b.io", "primary": True},
                    {"address": "c@d.io", "primary": True},
                ]
            },
            "emails.1.primary",
        ),
        ({"emails": [{"address": "a@b.io", "type": "mobile"}]}, "emails.0.type"),
        ({"emails": {"address": "a@b.io"}}, "emails"),
        ({"phones": [{"number": "030 1234567"}]}, "phones.0.number"),
        ({"addresses": [{"lines": [], "locality": "Paris", "country": "FR"}]}, "addresses.0.lines"),
        (
            {"addresses": [{"lines": ["1 Rue"], "locality": "Paris", "country": "XX"}]},
            "addresses.0.country",
        ),
        ({"roles": [{"organization_id": "not-an-id"}]}, "roles.0.organization_id"),
        (
            {
                "roles": [
                    {"organization_id": str(uuid4()), "start": "2024-05-01", "end": "2024-01-01"}
                ]
            },
            "roles.0.end",
        ),
        ({"family_members": [{"name": "Byron", "relation": "muse"}]}, "family_members.0.relation"),
        (
            {
                "family_members": [
                    {"name": "Ann", "relation": "child", "birthday": {"month": 2, "day": 30}}
                ]
            },
            "family_members.0.birthday.day",
        ),
        (
            {"important_dates": [{"kind": "custom", "date": {"month": 1, "day": 1}}]},
            "important_dates.0.label",
        ),
        (
            {"important_dates": [{"kind": "birthday", "date": {"month": 13, "day": 1}}]},
            "important_dates.0.date.month",
        ),
        (
            {
                "important_dates": [
                    {"kind": "anniversary", "date": {"month": 2, "day": 29, "year": 2023}}
                ]
            },
            "important_dates.0.date.day",
        ),
        (
            {
                "important_dates": [
                    {"kind": "birthday", "date": {"month": 1, "day": 1}},
                    {"kind": "birthday", "date": {"month": 2, "day": 2}},
                ]
            },
            "important_dates.1.kind",
        ),
        ({"preferences": {"language": "english!"}}, "preferences.language"),
        ({"preferences": {"preferred_channel": "pigeon"}}, "preferences.preferred_channel"),
        (
            {
                "preferences": {
                    "contact_hours": {
                        "days": ["mon"],
                        "start": "17:00",
                        "end": "09:00",
                        "time_zone": "UTC",
                    }
                }
            },
            "preferences.contact_hours.end",
        ),
        (
            {
                "preferences": {
                    "contact_hours": {
                        "days": ["mon"],
                        "start": "09:00",
                        "end": "17:00",
                        "time_zone": "Mars/Olympus",
                    }
                }
            },
            "preferences.contact_hours.time_zone",
        ),
        ({"preferences": {"other": {"Bad Key": "x"}}}, "preferences.other.Bad Key"),
        ({"tags": ["vip", " "]}, "tags"),
        ({"tags": "vip"}, "tags"),
        ({"custom_fields": {"shoe_size": "large"}}, "custom_fields.shoe_size"),
        ({"custom_fields": {"hat_size": 7}}, "custom_fields.hat_size"),
        ({"nickname": "Countess"}, "nickname"),
    ],
)
def test_a_section_breaking_a_rule_is_named_by_its_place(
    sections: dict[str, Any], field: str
) -> None:
    assert violation(**sections).field == field


def test_annual_dates_accept_29_february_without_a_year_or_in_a_leap_year() -> None:
    person = profile(
        important_dates=[
            {"kind": "anniversary", "date": {"month": 2, "day": 29}},
            {"kind": "custom", "label": "Leap", "date": {"month": 2, "day": 29, "year": 2024}},
        ]
    )
    assert [d.date.day for d in person.important_dates] == [29, 29]


def test_preferences_are_normalized() -> None:
    person = profile(
        preferences={
            "language": "PT-br",
            "preferred_channel": "sms",
            "contact_hours": {
                "days": ["fri", "mon", "mon"],
                "start": "09:00",
                "end": "17:30",
                "time_zone": "Europe/Lisbon",
            },
            "other": {"seat": "aisle"},
        }
    )
    preferences = person.preferences
    assert (preferences.language, preferences.preferred_channel) == ("pt-BR", ContactChannel.SMS)
    assert preferences.contact_hours is not None
    assert preferences.contact_hours.days == (Weekday.MONDAY, Weekday.FRIDAY)
    assert (preferences.contact_hours.start, preferences.contact_hours.end) == (
        time(9),
        time(17, 30),
    )
    assert preferences.other == {"seat": "aisle"}


def test_roles_keep_their_period_and_repeated_entries_count_once() -> None:
    organization = str(uuid4())
    role = {"organization_id": organization, "title": "CTO", "start": "2020-01-01"}

    person = profile(roles=[role, role])

    assert len(person.roles) == 1
    assert (person.roles[0].title, person.roles[0].start, person.roles[0].end) == (
        "CTO",
        date(2020, 1, 1),
        None,
    )


def test_tags_compare_case_insensitively() -> None:
    assert profile(tags=["VIP", " vip ", "Gold  Member"]).tags == ("gold member", "vip")


def test_custom_field_values_are_kept_in_canonical_form() -> None:
    assert profile(custom_fields={"shoe_size": "38.50", "hat_size": None}).custom_fields == {
        "shoe_size": "38.5"
    }


def test_a_patch_merges_objects_replaces_lists_and_removes_with_null() -> None:
    person = profile(
        emails=[{"address": "a@b.io"}],
        tags=["vip"],
        preferences={"language": "en", "other": {"seat": "aisle", "meal": "veg"}},
        custom_fields={"shoe_size": 38},
    )

    changes = PERSON.changes(
        person,
        {
            "tags": None,
            "emails": [{"address": "c@d.io"}],
            "preferences": {"other": {"meal": None}},
            "custom_fields": {"shoe_size": 39},
            "family_name": "Lovelace",
        },
        DEFINITIONS,
    )

    assert changes == {
        "tags": [],
        "emails": [{"address": "c@d.io", "type": "other", "primary": True}],
        "preferences": {
            "language": "en",
            "preferred_channel": None,
            "contact_hours": None,
            "other": {"seat": "aisle"},
        },
        "custom_fields": {"shoe_size": "39"},
    }
    updated = PERSON.apply(person, changes)
    assert updated.preferences.language == "en"
    assert updated.tags == ()


def test_a_patch_may_not_remove_the_family_name() -> None:
    with pytest.raises(RuleViolation) as raised:
        PERSON.changes(profile(), {"family_name": None}, {})
    assert raised.value.field == "family_name"


def test_erased_sections_decode_as_empty() -> None:
    """Personal fields come back as None once the key is destroyed."""
    erased = PERSON.apply(PersonProfile(), dict.fromkeys(PERSON.names))

    assert (erased.family_name, erased.emails, erased.tags, erased.custom_fields) == (
        None,
        (),
        (),
        {},
    )


@given(
    st.lists(
        st.fixed_dictionaries(
            {"address": st.sampled_from(["a@b.io", "A@B.io", "c@d.io", "e@f.io"])},
            optional={"primary": st.booleans()},
        ),
        max_size=6,
    )
)
def test_contact_point_lists_are_unique_with_exactly_one_primary(raw: list[dict[str, Any]]) -> None:
    try:
        emails = contact_points("emails", raw, EmailAddress.parse)
    except RuleViolation as refused:
        flagged = sum(1 for e in raw if e.get("primary"))
        addresses = [e["address"].lower() for e in raw]
        assert flagged > 1 or len(set(addresses)) < len(addresses), refused
        return
    assert len({e.address for e in emails}) == len(emails) == len(raw)
    assert sum(e.primary for e in emails) == (1 if emails else 0)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@given(JSON, JSON)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any) -> None:
    merged = merge_patch(target, patch)
    if not isinstance(patch, dict):
        assert merged == patch
        return
    assert isinstance(merged, dict)
    for name, value in patch.items():
        if value is None:
            assert name not in merged
        elif not isinstance(value, dict):
            assert merged[name] == value
    assert merge_patch(merged, patch) == merged, "applying a patch twice changes nothing more"


@given(st.lists(st.sampled_from(["VIP", "vip", " Gold ", "gold", "new  customer"]), max_size=8))
def test_tag_normalization_is_idempotent(tags: list[str]) -> None:
    assert normalize_tags(normalize_tags(tags)) == normalize_tags(tags)


def test_value_objects_survive_their_json_form() -> None:
    person = profile(
        emails=[{"address": "a@b.io"}],
        phones=[{"number": "+14155550100"}],
        roles=[{"organization_id": str(uuid4()), "start": "2021-02-03"}],
        family_members=[{"name": "Ann", "relation": "child", "birthday": {"month": 5, "day": 6}}],
        preferences={
            "contact_hours": {"days": ["tue"], "start": "08:00", "end": "12:00", "time_zone": "UTC"}
        },
        custom_fields={"shoe_size": 40},
    )

    assert from_json(PersonProfile, to_json(person)) == person
    assert isinstance(person.phones[0], PhoneNumber)
