"""Domain errors and HTTP preconditions as RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crm_platform.privacy import PersonalDataErased
from crm_platform.web import problems
from crm_platform.web.problems import NotFound, Unprocessable, problem_responses

from ..domain import (
    IdempotencyKeyReused,
    InvalidState,
    RecordNotFound,
    RuleViolation,
    TransitionNotAllowed,
    VersionConflict,
)


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


PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 409, 422)
