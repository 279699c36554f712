"""People: registration, profile, GDPR export and erasure.

A person merged into another answers every request with 307 to the survivor's same path; an
erased person answers 410 Gone (their export says so with 200).

``ProfileRoutes`` declares the register, read and change routes of people, and of organizations
too (``organizations``). Annotations are evaluated here (no postponed annotations): FastAPI reads
each of those routes' request model from its annotation, which is the kind of record's own.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from crm_platform.commands import Command, Outcome
from crm_platform.web.commands import (
    CommandBody,
    ConditionalBody,
    IfMatch,
    answer,
    command,
    show,
)
from crm_platform.web.idempotency import IdempotencyKey, idempotent_id
from crm_platform.web.pages import EMBEDDED_LIMIT, embedded

from ..application import ContactsApplication, CustomerView, PersonExport, RecordExport
from ..domain import Origin, Sourced
from ..domain.custom_fields import FieldValue
from ..domain.values import NAME_MAX_LENGTH
from .common import (
    PERSON_PROBLEM_RESPONSES,
    SERVICE,
    Eraser,
    Out,
    Reader,
    Writer,
    created,
    once_per,
)
from .consents import ConsentOut
from .interactions import InteractionOut, interaction_position, interactions_path
from .merges import MergeLinkOut
from .sections import (
    CUSTOM_FIELDS_DOC,
    LIST_DOC,
    TAGS_DOC,
    Address,
    CustomValue,
    Email,
    FamilyMember,
    ImportantDate,
    Phone,
    Preferences,
    Role,
    SourcedAddress,
    SourcedEmail,
    SourcedFamilyMember,
    SourcedImportantDate,
    SourcedPhone,
    SourcedRole,
    in_json,
    sourced,
)

REGISTER, UPDATE = "register-customer", "update-customer"
# The id of a person registered by a request, as it always was: a retry finds them.
REGISTER_SCOPE = f"{SERVICE}:{REGISTER}"


class PersonFields(CommandBody):
    given_name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    family_name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    emails: list[Email] | None = Field(default=None, description=LIST_DOC)
    phones: list[Phone] | None = Field(default=None, description=LIST_DOC)
    addresses: list[Address] | None = Field(default=None, description=LIST_DOC)
    roles: list[Role] | None = Field(default=None, description="Positions at organizations.")
    family_members: list[FamilyMember] | None = None
    important_dates: list[ImportantDate] | None = Field(
        default=None, description="Birthday (one), anniversaries, custom dates."
    )
    preferences: Preferences | None = Field(default=None, description="Merged in a PATCH.")
    tags: list[str] | None = Field(default=None, description=TAGS_DOC)
    custom_fields: dict[str, CustomValue | None] | None = Field(
        default=None, description=CUSTOM_FIELDS_DOC
    )


class RegisterCustomer(PersonFields):
    family_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)


class UpdateCustomer(PersonFields, ConditionalBody):
    """A JSON Merge Patch (RFC 7396) of the person's own profile: fields left out keep their
    values, null clears one, lists are replaced whole, objects merged key by key."""


class CustomerOut(Out):
    """The person as shown: their own data combined with that of duplicates merged into them
    (list entries name their ``record_id``; names and settings are the person's own first)."""

    id: UUID
    version: int
    registered_at: datetime
    origin: Origin = Field(description="Registered directly, from a lead, or imported.")
    lead_id: UUID | None
    given_name: str | None
    family_name: str | None
    email: str | None = Field(description="The primary e-mail address.")
    phone: str | None = Field(description="The primary phone number.")
    emails: list[SourcedEmail]
    phones: list[SourcedPhone]
    addresses: list[SourcedAddress]
    roles: list[SourcedRole]
    family_members: list[SourcedFamilyMember]
    important_dates: list[SourcedImportantDate]
    preferences: Preferences
    tags: list[str]
    custom_fields: dict[str, FieldValue] = Field(description="Number fields as JSON numbers.")
    interactions: list[InteractionOut] = Field(
        description=f"The first {EMBEDDED_LIMIT}, as they occurred; the others in interactions_next."
    )
    interactions_next: str | None = Field(
        description="Path of the next page of interactions; null: all are shown."
    )
    consents: list[ConsentOut] = Field(description="In force, per channel and purpose.")
    merged: list[MergeLinkOut] = Field(description="Duplicates merged into this person.")

    @classmethod
    def of(cls, view: CustomerView) -> "CustomerOut":
        person = view.person
        email, phone = _primary(person.emails), _primary(person.phones)
        interactions, interactions_next = embedded(
            person.interactions, interaction_position, interactions_path(view.id)
        )
        return cls(
            id=view.id,
            version=view.version,
            registered_at=view.registered_at,
            origin=view.origin,
            lead_id=view.lead_id,
            given_name=person.given_name,
            family_name=person.family_name,
            email=email.address if email else None,
            phone=phone.number if phone else None,
            emails=sourced(SourcedEmail, person.emails),
            phones=sourced(SourcedPhone, person.phones),
            addresses=sourced(SourcedAddress, person.addresses),
            roles=sourced(SourcedRole, person.roles),
            family_members=sourced(SourcedFamilyMember, person.family_members),
            important_dates=sourced(SourcedImportantDate, person.important_dates),
            preferences=Preferences.model_validate(person.preferences),
            tags=list(person.tags),
            custom_fields=dict(view.custom_fields),
            interactions=[InteractionOut.of(s.record_id, s.item) for s in interactions],
            interactions_next=interactions_next,
            consents=ConsentOut.each(person.consents_in_force),
            merged=[MergeLinkOut.model_validate(m) for m in view.merges],
        )


class ProfileOut(Out):
    """What one record holds (nothing once erased)."""

    given_name: str | None
    family_name: str | None
    emails: list[Email]
    phones: list[Phone]
    addresses: list[Address]
    roles: list[Role]
    family_members: list[FamilyMember]
    important_dates: list[ImportantDate]
    preferences: Preferences
    tags: list[str]
    custom_fields: dict[str, FieldValue] = Field(description="Number fields as JSON numbers.")


class HistoryEntryOut(Out):
    version: int
    type: str = Field(examples=["Customer.Contacted"])
    recorded_at: datetime
    data: dict[str, Any] = Field(description="The event's fields; personal ones null if erased.")


class RecordExportOut(Out):
    customer_id: UUID
    registered_at: datetime
    origin: Origin
    lead_id: UUID | None
    profile: ProfileOut
    interactions: list[InteractionOut]
    consents: list[ConsentOut]
    merges: list[MergeLinkOut]
    history: list[HistoryEntryOut] = Field(description="Every event of the record, in order.")

    @classmethod
    def of(cls, record: RecordExport) -> "RecordExportOut":
        return cls(
            customer_id=record.customer_id,
            registered_at=record.registered_at,
            origin=record.origin,
            lead_id=record.lead_id,
            profile=ProfileOut.model_validate(record.profile).model_copy(
                update={"custom_fields": dict(record.custom_fields)}
            ),
            interactions=[InteractionOut.of(record.customer_id, i) for i in record.interactions],
            consents=[ConsentOut.of(record.customer_id, c) for c in record.consents],
            merges=[MergeLinkOut.model_validate(m) for m in record.merges],
            history=[HistoryEntryOut.model_validate(h) for h in record.history],
        )


class ExportOut(BaseModel):
    """Everything held about the person (GDPR art. 15 and 20), machine-readable."""

    customer_id: UUID
    exported_at: datetime
    status: Literal["active", "erased"]
    erased_at: datetime | None
    records: list[RecordExportOut] = Field(
        description="The person's record first, then those of duplicates merged into it."
    )

    @classmethod
    def of(cls, export: PersonExport) -> "ExportOut":
        return cls(
            customer_id=export.customer_id,
            exported_at=export.exported_at,
            status=export.status,
            erased_at=export.erased_at,
            records=[RecordExportOut.of(r) for r in export.records],
        )


class ErasureOut(Out):
    customer_id: UUID
    erased_at: datetime
    erased_records: list[UUID] = Field(
        description="The person and the duplicates merged into them (the same person)."
    )


def _primary(entries: tuple[Sourced[Any], ...]) -> Any:
    return next((s.item for s in entries if s.item.primary), None)


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


def customers_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["customers"], responses=PERSON_PROBLEM_RESPONSES)

    ProfileRoutes(
        record="customer",
        register_body=RegisterCustomer,
        update_body=UpdateCustomer,
        out=CustomerOut,
        present=CustomerOut.of,
        profile=in_json,
        # Looked up per request: the routes are also built without an application (OpenAPI).
        register=lambda cmd, record_id, /, *, profile: application.register_customer(
            cmd, record_id, profile=profile
        ),
        get=lambda record_id: application.get_customer(record_id),
        update=lambda record_id, cmd, /, *, patch: application.update_customer(
            record_id, cmd, patch=patch
        ),
        docs=(
            "Register a person; retrying with the same Idempotency-Key and body is safe.",
            "Change the person's own profile (JSON Merge Patch); ``CustomerProfileUpdated``.",
        ),
    ).declare(router)

    @router.get("/{customer_id}/export", response_model=ExportOut)
    def export_customer(customer_id: UUID, _: Reader) -> ExportOut:
        """Everything held about the person, with every record's event history (GDPR access)."""
        return ExportOut.of(application.export_customer(customer_id))

    @router.post("/{customer_id}/erasure", response_model=ErasureOut)
    def erase_customer(customer_id: UUID, response: Response, principal: Eraser) -> ErasureOut:
        """Erase the person by destroying their key (crypto-shredding): every copy of their data,
        in the store and on every topic, becomes unreadable; ``CustomerErased``. Idempotent."""
        cmd = once_per(customer_id, principal, "erase-customer")
        outcome = application.erase_customer(customer_id, cmd)
        return answer(response, outcome, ErasureOut.model_validate)

    return router
