"""Domain refusals and HTTP preconditions as RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crm_platform.web.problems import (
    InvalidState,
    NotFound,
    Unprocessable,
    VersionConflict,
    problem_responses,
)

from .. import domain

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
