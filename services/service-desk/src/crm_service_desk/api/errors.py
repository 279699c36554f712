"""Domain errors and HTTP preconditions as RFC 9457 problem details."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from crm_platform.privacy import PersonalDataErased
from crm_platform.web import problems
from crm_platform.web.problems import BadRequest, NotFound, Unprocessable, problem_responses

from ..domain import (
    IdempotencyKeyReused,
    InvalidState,
    RecordNotFound,
    RuleViolation,
    TransitionNotAllowed,
    VersionConflict,
)

_VERSION_TAG = re.compile(r'(?:W/)?"(\d+)"')


@contextmanager
def domain_problems(location: str = "body") -> Iterator[None]:
    """Re-raise the domain's refusals as the platform's problem exceptions; a rule violation
    names its field under ``location`` (``body``, ``query``)."""
    try:
        yield
    except RecordNotFound as error:
        raise NotFound(str(error)) from error
    except VersionConflict as error:
        raise problems.VersionConflict(error.actual, str(error)) from error
    except (TransitionNotAllowed, InvalidState) as error:
        raise problems.InvalidState(str(error)) from error
    except PersonalDataErased as error:
        raise problems.InvalidState("the requester's personal data was erased") from error
    except RuleViolation as error:
        raise Unprocessable.for_field(f"{location}.{error.field}", error.detail) from error
    except IdempotencyKeyReused as error:
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
    """Weak: the representation varies with content negotiation, the version does not."""
    return f'W/"{version}"'


PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 409, 422)
