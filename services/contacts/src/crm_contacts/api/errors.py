"""Domain errors as RFC 9457 problem details, and the HTTP preconditions of commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from fastapi import Request

from crm_platform.privacy import PersonalDataErased
from crm_platform.web.problems import (
    TYPE_BASE,
    InvalidState,
    NotFound,
    ProblemError,
    Unprocessable,
    VersionConflict,
    problem_responses,
)

from ..domain import (
    CustomerErased,
    CustomerMerged,
    IdempotencyKeyReused,
    InteractionNotFound,
    MergeNotFound,
    RecordNotFound,
    RuleViolation,
)
from ..domain import InvalidState as DomainInvalidState
from ..domain import VersionConflict as DomainVersionConflict


class Gone(ProblemError):
    """The person was erased: nothing about them can be shown or changed any more."""

    status, title, type = 410, "Gone", TYPE_BASE + "erased"


class MergedRedirect(ProblemError):
    """The person was merged into another record, which answers for both (until an unmerge)."""

    status, title, type = 307, "Temporary Redirect", TYPE_BASE + "merged"


@contextmanager
def domain_problems(request: Request) -> Iterator[None]:
    """Re-raise the domain's refusals as the platform's problem exceptions."""
    try:
        yield
    except (RecordNotFound, InteractionNotFound, MergeNotFound) as error:
        raise NotFound(str(error)) from error
    except DomainVersionConflict as error:
        raise VersionConflict(error.actual, str(error), record_id=str(error.record_id)) from error
    except RuleViolation as error:
        raise Unprocessable.for_field(f"body.{error.field}", error.detail) from error
    except IdempotencyKeyReused as error:
        raise Unprocessable.for_field(
            "header.Idempotency-Key", "already used for a different request"
        ) from error
    except DomainInvalidState as error:
        raise InvalidState(str(error)) from error
    except CustomerErased as error:
        raise Gone(str(error), erased_at=error.erased_at.isoformat()) from error
    except PersonalDataErased as error:  # erased while this command was being decided
        raise Gone(str(error)) from error
    except CustomerMerged as error:
        location = _same_path_for(request, error.customer_id, error.survivor_id)
        raise MergedRedirect(
            str(error), headers={"Location": location}, survivor_id=str(error.survivor_id)
        ) from error


def _same_path_for(request: Request, record_id: UUID, survivor_id: UUID) -> str:
    """The request's URL with the merged record's id replaced by the survivor's."""
    path = request.url.path.replace(str(record_id), str(survivor_id), 1)
    return str(request.url.replace(path=path))


PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 409, 422)
# Routes of a person also answer for merged (307 to the survivor) and erased (410) people.
PERSON_PROBLEM_RESPONSES = problem_responses(307, 400, 401, 403, 404, 409, 410, 422)
