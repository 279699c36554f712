"""The routes of a record known by its profile (a person, an organization), declared once.

``POST /<records>`` registers one under an id derived from the Idempotency-Key (a retry finds
it: answered as the first time), ``GET /<records>/{<record>_id}`` shows it with its version as
ETag, and ``PATCH`` changes its profile by a JSON Merge Patch (RFC 7396), If-Match guarded.

Annotations are evaluated here (no postponed annotations): FastAPI reads each route's request
model from its annotation, which is the kind of record's own.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from crm_platform.commands import Command, Outcome
from crm_platform.web.commands import IfMatch, answer, command, show
from crm_platform.web.idempotency import IdempotencyKey, idempotent_id

from .common import SERVICE, Reader, Writer, created
from .sections import in_json


class Registers(Protocol):
    def __call__(
        self, command: Command, record_id: UUID, /, *, profile: Mapping[str, Any]
    ) -> Outcome[Any]: ...


class Updates(Protocol):
    def __call__(
        self, record_id: UUID, command: Command, /, *, patch: Mapping[str, Any]
    ) -> Outcome[Any]: ...


@dataclass(frozen=True)
class ProfileRoutes:
    """What differs between the kinds of record: names, models and the application's calls."""

    record: str  # "customer": names the routes, their path parameter and their commands
    register_body: type[BaseModel]
    update_body: type[BaseModel]
    out: type[BaseModel]
    present: Callable[[Any], BaseModel]
    profile: Callable[[Any], dict[str, Any]]  # of a registration's body
    register: Registers
    get: Callable[[UUID], Any]
    update: Updates
    docs: tuple[str, str]  # of the registration, of the change

    @property
    def register_operation(self) -> str:
        return f"register-{self.record}"

    def record_id(self, key: str, principal: str) -> UUID:
        """The id of the record a registration makes, as it always was: a retry finds it."""
        scope = f"{SERVICE}:{self.register_operation}"
        return idempotent_id(key, scope=scope, principal=principal)

    def declare(self, router: APIRouter) -> None:
        """Declare the routes on ``router`` (of the records' prefix)."""
        record, present = self.record, self.present
        record_path = Path(alias=f"{record}_id")

        def register_record(
            body: self.register_body,  # type: ignore[name-defined]  # the kind's model
            request: Request,
            response: Response,
            principal: Writer,
            key: IdempotencyKey,
        ) -> Any:
            record_id = self.record_id(key, principal.subject)
            cmd = command(
                key,
                principal,
                body,
                service=SERVICE,
                operation=self.register_operation,
                target=record_id,
            )
            outcome = self.register(cmd, record_id, profile=self.profile(body))
            created(request, response, f"get_{record}", **{f"{record}_id": record_id})
            return answer(response, outcome, present)

        def get_record(response: Response, _: Reader, record_id: UUID = record_path) -> Any:
            return show(response, self.get(record_id), present)

        def update_record(
            body: self.update_body,  # type: ignore[name-defined]  # the kind's model
            response: Response,
            principal: Writer,
            key: IdempotencyKey,
            record_id: UUID = record_path,
            if_match: IfMatch = None,
        ) -> Any:
            cmd = command(
                key,
                principal,
                body,
                service=SERVICE,
                operation=f"update-{record}",
                target=record_id,
                if_match=if_match,
            )
            patch = in_json(body, exclude={"expected_version"})
            return answer(response, self.update(record_id, cmd, patch=patch), present)

        path = "/{" + record + "_id}"
        for method, route_path, endpoint, status, doc in (
            ("POST", "", register_record, 201, self.docs[0]),
            ("GET", path, get_record, 200, None),
            ("PATCH", path, update_record, 200, self.docs[1]),
        ):
            router.add_api_route(
                route_path,
                endpoint,
                methods=[method],
                status_code=status,
                response_model=self.out,
                # The names the routes always had: their operation ids are made of them.
                name=f"{endpoint.__name__.split('_')[0]}_{record}",
                description=doc,
            )
