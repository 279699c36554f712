"""Custom fields: typed fields administrators define for people and for organizations."""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from crm_platform.web.commands import CommandBody, IfMatch, command, show
from crm_platform.web.conditional import etag
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import ContactsApplication
from ..domain import FieldType, RecordKind
from ..domain.custom_fields import FIELD_NAME, MAX_OPTIONS
from .common import SERVICE, Admin, Out, Reader

FieldName = Annotated[
    str, Path(pattern=f"^{FIELD_NAME.pattern}$", description="Lower-case letters, digits, _.")
]


DEFINE = "define-custom-field"


class DefineField(CommandBody):
    type: FieldType = Field(description="Fixed once defined.")
    label: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    options: list[str] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="An enum's options; a revision may add options, never remove one.",
    )


class FieldDefinitionOut(Out):
    name: str
    type: FieldType
    label: str
    description: str | None
    options: list[str]


class FieldDefinitionsOut(BaseModel):
    record_kind: RecordKind
    version: int = Field(description="Version of the kind's definitions (0: none yet).")
    items: list[FieldDefinitionOut]


def custom_fields_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/custom-fields", tags=["custom fields"], responses=PROBLEM_RESPONSES)

    @router.get("/{record_kind}", response_model=FieldDefinitionsOut)
    def list_fields(record_kind: RecordKind, response: Response, _: Reader) -> FieldDefinitionsOut:
        version, definitions = application.custom_fields(record_kind)
        response.headers["ETag"] = etag(version)
        items = [FieldDefinitionOut.model_validate(d) for d in definitions]
        return FieldDefinitionsOut(record_kind=record_kind, version=version, items=items)

    @router.put(
        "/{record_kind}/{name}",
        response_model=FieldDefinitionOut,
        responses={201: {"description": "Defined", "model": FieldDefinitionOut}},
    )
    def define_field(
        record_kind: RecordKind,
        name: FieldName,
        body: DefineField,
        response: Response,
        principal: Admin,
        if_match: IfMatch = None,
    ) -> FieldDefinitionOut:
        """Define a field (201) or revise it (200): label, description and new options. PUT is
        idempotent; If-Match takes the version of the kind's definitions."""
        # Idempotent by its effect (defining a field as it is changes nothing), a PUT has no
        # Idempotency-Key: each is a command of its own.
        cmd = command(
            str(uuid4()), principal, body, service=SERVICE, operation=DEFINE, if_match=if_match
        )
        outcome = application.define_custom_field(
            record_kind, name, body.model_dump(mode="json"), cmd
        )
        response.status_code = 201 if outcome.value.created else 200
        return show(
            response,
            outcome.value,
            lambda defined: FieldDefinitionOut.model_validate(defined.definition),
        )

    return router
