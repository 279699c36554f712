from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_contacts.domain.duplicates import (
    CANDIDATE_THRESHOLD,
    Evidence,
    PersonFingerprint,
    blocking_keys,
    name_similarity,
    score,
)
from crm_platform.text import fold

pytestmark = pytest.mark.unit


def person(
    given: str | None = "Ada",
    family: str | None = "Lovelace",
    emails: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
) -> PersonFingerprint:
    return PersonFingerprint(given, family, frozenset(emails), frozenset(phones))


def test_fold_ignores_case_accents_punctuation_and_spacing() -> None:
    assert fold("  Zoë   O'Neil-SMITH ") == "zoe o neil smith"
    assert fold("ÅSA Ødegård") == "asa ødegard"  # ø is a letter of its own, not an accented o


def test_a_shared_email_and_the_same_name_is_a_likely_duplicate() -> None:
    result = score(
        person(emails=("ada@example.org",)), person("ADA", "Lovelace", ("ada@example.org",))
    )

    assert result.score == 0.92
    assert result.is_likely
    assert [(r.field, r.values, r.similarity) for r in result.reasons] == [
        (Evidence.EMAIL, ("ada@example.org",), 1.0),
        (Evidence.NAME, ("ada lovelace",), 1.0),
    ]


def test_a_shared_phone_with_another_name_is_a_candidate_but_not_likely() -> None:
    result = score(
        person(phones=("+442079460958",)), person("Charles", "Babbage", phones=("+442079460958",))
    )

    assert result.score == 0.6
    assert result.is_candidate and not result.is_likely
    assert [r.field for r in result.reasons] == [Evidence.PHONE]


def test_swapped_and_misspelt_names_are_similar() -> None:
    assert name_similarity("Ada Lovelace", "Lovelace Ada") == 1.0
    assert name_similarity("Ada Lovelace", "Ada Lovelase") >= 0.95
    assert name_similarity("Ada Lovelace", "Grace Hopper") < 0.85


def test_different_people_are_no_candidates() -> None:
    result = score(
        person(emails=("ada@example.org",), phones=("+442079460958",)),
        person("Grace", "Hopper", ("grace@example.org",), ("+12025550123",)),
    )

    assert result.score == 0.0
    assert result.reasons == ()
    assert not result.is_candidate


def test_missing_names_are_never_similar() -> None:
    """An erased person's names read as None: an empty name must not match another empty one."""
    assert score(person(None, None), person(None, None)).score == 0.0


def test_blocking_keys_bring_swapped_names_and_shared_contact_points_together() -> None:
    ada = person(emails=("ada@example.org",), phones=("+442079460958",))
    swapped = person("Lovelace", "Ada")
    typo = person("Ada", "Lovelase")

    assert blocking_keys(ada) == {
        "email:ada@example.org",
        "phone:+442079460958",
        "name:love|a",
        "name:ada|l",
    }
    assert blocking_keys(ada) & blocking_keys(swapped)
    assert blocking_keys(ada) & blocking_keys(typo)
    assert not blocking_keys(ada) & blocking_keys(person("Grace", "Hopper"))


names = st.text(st.characters(categories=["L", "Zs", "Pd"]), max_size=30)
contact_points = st.frozensets(st.sampled_from(["a@x.org", "b@x.org", "+4930123456"]), max_size=2)
fingerprints = st.builds(PersonFingerprint, names, names, contact_points, contact_points)


@given(fingerprints, fingerprints)
def test_scores_are_symmetric_and_between_zero_and_one(
    a: PersonFingerprint, b: PersonFingerprint
) -> None:
    forward, backward = score(a, b), score(b, a)

    assert forward.score == backward.score
    assert {r.field for r in forward.reasons} == {r.field for r in backward.reasons}
    assert 0.0 <= forward.score <= 1.0
    assert forward.is_candidate == bool(forward.reasons)


@given(fingerprints)
def test_a_named_person_is_a_likely_duplicate_of_itself(a: PersonFingerprint) -> None:
    result = score(a, a)

    if a.full_name:
        assert result.score >= CANDIDATE_THRESHOLD
    if a.full_name and (a.emails or a.phones):
        assert result.is_likely


@given(fingerprints, fingerprints)
def test_records_sharing_a_contact_point_share_a_blocking_key(
    a: PersonFingerprint, b: PersonFingerprint
) -> None:
    if a.emails & b.emails or a.phones & b.phones:
        assert blocking_keys(a) & blocking_keys(b)
