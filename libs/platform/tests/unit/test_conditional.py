from __future__ import annotations

import pytest

from crm_platform.web.conditional import etag, expected_version
from crm_platform.web.problems import BadRequest

pytestmark = pytest.mark.unit


def test_the_etag_of_a_version_reads_back_as_that_version() -> None:
    assert etag(7) == 'W/"7"'
    assert expected_version(etag(7), None) == 7
    assert expected_version('"7"', 7) == 7  # a strong tag names the same version


@pytest.mark.parametrize("if_match", [None, "*", " * "])
def test_without_a_tag_the_body_decides(if_match: str | None) -> None:
    assert expected_version(if_match, 3) == 3
    assert expected_version(if_match, None) is None


@pytest.mark.parametrize("if_match", ['W/"x"', "7", 'W/"1", W/"2"'])
def test_anything_but_one_version_tag_is_a_bad_request(if_match: str) -> None:
    with pytest.raises(BadRequest):
        expected_version(if_match, None)


def test_a_tag_and_a_body_version_must_agree() -> None:
    with pytest.raises(BadRequest):
        expected_version('W/"2"', 3)
