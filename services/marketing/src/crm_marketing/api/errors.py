"""Domain refusals and HTTP preconditions as RFC 9457 problem details."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from crm_platform.web.problems import (
    BadRequest,
    InvalidState,
    NotFound,
    Unprocessable,
    VersionConflict,
    problem_responses,
)

from .. import domain

_VERSION_TAG = re.compile(r'(?:W/)?"(\d+)"')
PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 409, 422)


@contextmanager
def domain_problems() -> Iterator[None]:
    """Re-raise the domain's refusals as the platform's problem exceptions."""
    try:
        yield
    except domain.NotFound as error:
        raise NotFound(str(error)) from error
    except domain.VersionConflict as error:
        raise VersionConflict(error.actual) from error
    except domain.InvalidTransition as error:
        raise InvalidState(str(error)) from error
    except domain.RuleViolation as error:
        raise Unprocessable.for_field(f"body.{error.field}", error.detail) from error
    except domain.IdempotencyKeyReused as error:
        raise Unprocessable.for_field(
            "header.Idempotency-Key", "already used for a different request"
        ) from error


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


def etag(version: int) -> str:
    return f'W/"{version}"'
