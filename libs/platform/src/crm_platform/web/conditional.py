"""Optimistic concurrency over HTTP: an aggregate's version as a weak ETag, and the version a
command is conditional on, from If-Match or the body's ``expected_version``."""

from __future__ import annotations

import re

from .problems import BadRequest

IF_MATCH_HEADER = "If-Match"
_VERSION_TAG = re.compile(r'(?:W/)?"(\d+)"')


def etag(version: int) -> str:
    """Weak: the representation varies with content negotiation, the version does not."""
    return f'W/"{version}"'


def expected_version(if_match: str | None, body_version: int | None) -> int | None:
    """The version a command is conditional on: If-Match (``W/"3"``) or the body's field."""
    if if_match is None or if_match.strip() == "*":
        return body_version
    match = _VERSION_TAG.fullmatch(if_match.strip())
    if match is None:
        raise BadRequest('If-Match must be one entity tag W/"<version>"')
    version = int(match.group(1))
    if body_version is not None and body_version != version:
        raise BadRequest("If-Match and expected_version disagree")
    return version
