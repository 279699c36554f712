"""CSV rows of people and organizations: the columns an import reads and an export writes, and
each row turned into a validated profile, or into the reasons it cannot be one.

Column names are case-insensitive. Cells may hold several values separated by ``;`` (e-mails,
phones, tags, kinds, address lines, which may also be separated by line breaks). A blank cell is
an absent value. Columns:

- both: ``external_id`` (the record's id in the system the file comes from: a re-run of an
  import recognises the row by it), the postal address ``street``, ``city``, ``region``,
  ``postal_code``, ``country`` (ISO 3166 alpha-2), ``address_type``, ``tags`` and
  ``custom.<field>`` for each custom field defined for the kind of record;
- people: ``given_name``, ``family_name``, ``email`` and ``email.<type>``,
  ``phone`` and ``phone.<type>`` (the types of ``EmailType`` and ``PhoneType``), a role at an
  organization (``organization_id``, or ``organization`` by its exact name, with ``job_title``
  and ``department``), ``birthday`` (``YYYY-MM-DD``, or ``--MM-DD`` when the year is unknown),
  ``language`` and ``preferred_channel``, and a consent decision (``consent.channel``,
  ``consent.purpose``, ``consent.status``, ``consent.source``, ``consent.date``);
- organizations: ``name``, ``kinds``, ``legal_name``, ``tax_id``, ``industry``,
  ``website``, ``partner_type``, ``parent_id``.

Phone numbers are stored in E.164, national ones read in the header's region. A mapping
(``domain.import_mappings``) renames another system's columns to these. The columns of the
sections the domain requires (``Sections.required``) must be present.
Column names and cells follow the platform's text rule (``crm_platform.text``: no control
characters but line breaks and tabs in cells) and are NFC-normalized.
Validation is the domain's own (the profile sections a registration parses), so a row accepted
here is a registration the aggregate accepts; each violation is reported against the column the
value came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_platform.text import clean, unsafe_reason, visible

from .contact_points import EmailType, PhoneType, phone_number
from .custom_fields import Definitions
from .errors import RuleViolation
from .import_mappings import ColumnMapping, mapped
from .organization import ORGANIZATION
from .profile import PERSON
from .sections import Sections

VALUE_SEPARATOR = ";"
CUSTOM_PREFIX = "custom."
CONSENT_PREFIX = "consent."
CONSENT_COLUMNS = ("channel", "purpose", "status", "source", "date")
EXTERNAL_ID = "external_id"
EXTERNAL_ID_MAX_LENGTH = 200
COLUMN_NAME_MAX_LENGTH = 1024
_SEPARATORS = re.compile(r"[;\r\n]")
_BIRTHDAY = re.compile(r"(?:(\d{4})|-)-(\d{2})-(\d{2})")

_FORMULA_START = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?[\d\s().]+")

# Looks organizations up by name for a person's role: the ids of those with exactly that name.
OrganizationLookup = Callable[[str], Sequence[UUID]]


@dataclass(frozen=True)
class Problem:
    """Why a header or a row was refused: the column at fault (``row`` for the row as a whole)."""

    column: str
    message: str


class InvalidHeader(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.column}: {p.message}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ConsentCells:
    """The consent decision a row records: channel, purpose, status and source as the domain
    names them (checked by its consent command), and when it was made."""

    channel: str
    purpose: str
    status: str
    source: str
    decided_at: datetime


@dataclass(frozen=True)
class ValidRow:
    """A row that registers a record: its external id, and the profile in its normalized form;
    ``patch``, the sections its cells give (a JSON Merge Patch that updates a record with them,
    leaving blank cells' sections as they are); the consent decision it records, if any."""

    external_id: str | None
    profile: dict[str, Any]
    patch: dict[str, Any] = field(default_factory=dict)
    consent: ConsentCells | None = None


class _Row:
    """A profile being assembled from cells, remembering which column each value came from."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region  # of national phone numbers
        self.profile: dict[str, Any] = {}
        self.sources: dict[str, str] = {}  # a profile path ("emails.1", "addresses.0.locality")
        self.external_id: str | None = None
        self.problems: list[Problem] = []
        self.entries: dict[str, dict[str, Any]] = {}  # the entry of each section built by columns
        self.consent: dict[str, str] = {}  # the consent columns' cells

    def put(self, path: str, value: Any, column: str) -> None:
        """Set a section, or a key of an object section (``custom_fields.tier``)."""
        *parents, name = path.split(".")
        target = self.profile
        for parent in parents:
            target = target.setdefault(parent, {})
        target[name] = value
        self.sources[path] = column

    def append(self, section: str, entry: dict[str, Any], column: str) -> None:
        entries = self.profile.setdefault(section, [])
        self.sources[f"{section}.{len(entries)}"] = column
        entries.append(entry)

    def entry(self, section: str, key: str, value: Any, column: str) -> None:
        """Set ``key`` of the one entry of ``section`` that several columns describe together
        (the address, the role), created by the first of those columns that has a value."""
        if section not in self.entries:
            self.append(section, {}, column)
            self.entries[section] = self.profile[section][-1]
        self.entries[section][key] = value
        self.sources[f"{section}.{len(self.profile[section]) - 1}.{key}"] = column

    def column_of(self, field: str) -> tuple[str, bool]:
        """The column a violation at ``field`` (``emails.1.address``) is about, and whether the
        field is exactly that column's value (else the message names the field)."""
        parts = field.split(".")
        if len(parts) >= 3 and (column := _COLUMN_OF_KEY.get((parts[0], parts[2]))):
            return column, len(parts) == 3
        for length in range(len(parts), 0, -1):
            if (column := self.sources.get(".".join(parts[:length]))) is not None:
                return column, length == len(parts)
        return parts[0], len(parts) == 1


Cell = Callable[[_Row, str, str], None]  # (row, the cell's text, the column's name)


def _section(path: str) -> Cell:
    return lambda row, text, column: row.put(path, text, column)


def _listed(path: str) -> Cell:
    return lambda row, text, column: row.put(path, split(text), column)


def _entry(section: str, key: str) -> Cell:
    def cell(row: _Row, text: str, column: str) -> None:
        row.entry(section, key, split(text) if key == "lines" else text, column)

    return cell


def _emails(kind: str | None) -> Cell:
    def cell(row: _Row, text: str, column: str) -> None:
        for value in split(text):
            row.append("emails", {"address": value, **({"type": kind} if kind else {})}, column)

    return cell


def _phones(kind: str | None) -> Cell:
    """Numbers stored in E.164; national ones read in the import's region."""

    def cell(row: _Row, text: str, column: str) -> None:
        for value in split(text):
            try:
                number = phone_number(value, column, row.region)
            except RuleViolation as violation:
                row.problems.append(Problem(column, violation.detail))
                continue
            row.append("phones", {"number": number, **({"type": kind} if kind else {})}, column)

    return cell


def _consent(key: str) -> Cell:
    def cell(row: _Row, text: str, column: str) -> None:
        row.consent[key] = text.lower() if key != "date" else text

    return cell


def _consent_cells(row: _Row) -> ConsentCells | None:
    """The row's consent decision: channel, purpose, status and date all given, or none."""
    if not row.consent:
        return None
    missing = [k for k in ("channel", "purpose", "status", "date") if k not in row.consent]
    row.problems += [Problem(f"{CONSENT_PREFIX}{k}", "is required for a consent") for k in missing]
    decided_at = _decided_at(row.consent.get("date", ""))
    if decided_at is None and "date" in row.consent:
        row.problems.append(
            Problem(f"{CONSENT_PREFIX}date", "must be a date YYYY-MM-DD or an ISO 8601 time")
        )
    if missing or decided_at is None:
        return None
    consent = row.consent
    source = consent.get("source", "import")
    return ConsentCells(
        consent["channel"], consent["purpose"], consent["status"], source, decided_at
    )


def _decided_at(text: str) -> datetime | None:
    """A date (its midnight, UTC) or an instant; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _birthday(row: _Row, text: str, column: str) -> None:
    match = _BIRTHDAY.fullmatch(text)
    if match is None:
        row.problems.append(Problem(column, "must be a date YYYY-MM-DD, or --MM-DD without a year"))
        return
    year, month, day = match.groups()
    date = {"month": int(month), "day": int(day), **({"year": int(year)} if year else {})}
    row.append("important_dates", {"kind": "birthday", "date": date}, column)


def _external_id(row: _Row, text: str, column: str) -> None:
    if len(text) > EXTERNAL_ID_MAX_LENGTH:
        row.problems.append(Problem(column, f"must be at most {EXTERNAL_ID_MAX_LENGTH} characters"))
    row.external_id = text


# Columns that together describe one entry of a list section, and the entry's key each sets.
_ENTRY_COLUMNS = {
    "addresses": {
        "street": "lines",
        "city": "locality",
        "region": "region",
        "postal_code": "postal_code",
        "country": "country",
        "address_type": "type",
    },
    "roles": {
        "organization_id": "organization_id",
        "organization": "organization",  # a name, resolved to organization_id
        "job_title": "title",
        "department": "department",
    },
}
# The column a violation inside such an entry is about, even when that column was left blank.
_COLUMN_OF_KEY = {
    (section, key): column
    for section, keys in _ENTRY_COLUMNS.items()
    for column, key in keys.items()
}
_ADDRESS = {column: _entry("addresses", key) for column, key in _ENTRY_COLUMNS["addresses"].items()}
_ROLE = {column: _entry("roles", key) for column, key in _ENTRY_COLUMNS["roles"].items()}
_COMMON: dict[str, Cell] = {EXTERNAL_ID: _external_id, **_ADDRESS, "tags": _listed("tags")}

PEOPLE_COLUMNS: dict[str, Cell] = {
    **_COMMON,
    "given_name": _section("given_name"),
    "family_name": _section("family_name"),
    "email": _emails(None),
    **{f"email.{t}": _emails(t.value) for t in EmailType},
    "phone": _phones(None),
    **{f"phone.{t}": _phones(t.value) for t in PhoneType},
    **_ROLE,
    "birthday": _birthday,
    "language": _section("preferences.language"),
    "preferred_channel": _section("preferences.preferred_channel"),
    **{f"{CONSENT_PREFIX}{key}": _consent(key) for key in CONSENT_COLUMNS},
}
ORGANIZATION_COLUMNS: dict[str, Cell] = {
    **_COMMON,
    "name": _section("name"),
    "legal_name": _section("legal_name"),
    "tax_id": _section("tax_id"),
    "industry": _section("industry"),
    "website": _section("website"),
    "kinds": _listed("kinds"),
    "partner_type": _section("partner_type"),
    "parent_id": _section("parent_id"),
}


@dataclass(frozen=True)
class RecordFormat:
    """The CSV format of one kind of record: read by imports, written by exports."""

    sections: Sections[Any]
    columns: Mapping[str, Cell]
    exported: tuple[str, ...]  # the columns an export writes, before the custom fields
    export: Callable[[UUID, Mapping[str, Any]], dict[str, str]]

    def export_columns(self, definitions: Definitions) -> list[str]:
        return [*self.exported, *(f"{CUSTOM_PREFIX}{name}" for name in sorted(definitions))]

    def export_row(
        self, record_id: UUID, document: Mapping[str, Any], columns: Sequence[str]
    ) -> list[str]:
        """The cells of a record (its JSON document), in ``columns``' order; an import of them
        registers the same record (with ``external_id`` its id here)."""
        cells = self.export(record_id, document)
        custom = document.get("custom_fields") or {}
        for name, value in custom.items():
            cells[f"{CUSTOM_PREFIX}{name}"] = _text(value)
        return [protect(cells.get(column, "")) for column in columns]

    def header(
        self,
        names: Sequence[str],
        definitions: Definitions,
        mapping: ColumnMapping | None = None,
        region: str | None = None,
    ) -> Header:
        """The header row, checked: known columns (custom fields defined), none twice, the
        required ones present. With a ``mapping`` (``domain.import_mappings``), the file's
        columns are renamed by it, and those neither mapped nor known are left out (``""``).
        ``region`` is that of the rows' national phone numbers. ``InvalidHeader`` lists every
        problem at once."""
        if refused := [problem for name in names if (problem := _name_problem(name))]:
            raise InvalidHeader(refused)
        columns, problems = self._columns(names, definitions, mapping)
        problems += [
            Problem(c, "unknown column") for c in columns if not self._known(c, definitions)
        ]
        repeated = [c for i, c in enumerate(columns) if c and c in columns[:i]]
        problems += [Problem(c, "appears twice") for c in repeated]
        required = self.sections.required
        problems += [Problem(c, "required column missing") for c in required if c not in columns]
        if problems:
            raise InvalidHeader(problems)
        return Header(self, tuple(columns), definitions, region)

    def _columns(
        self, names: Sequence[str], definitions: Definitions, mapping: ColumnMapping | None
    ) -> tuple[list[str], list[Problem]]:
        """Our names of the file's columns (``""``: left out), and the mapping's faults."""
        columns = [clean(name).strip().lower() for name in names]
        if mapping is None:
            return columns, []
        ours, problems = [], []
        for name, column in zip(names, columns, strict=True):
            named, target = mapped(mapping, clean(name))
            if not named:
                ours.append(column if self._known(column, definitions) else "")
            elif target is None or self._known(target.lower(), definitions):
                ours.append((target or "").lower())
            else:
                ours.append("")
                problems.append(Problem(visible(name), f"is mapped to {target!r}: no such column"))
        return ours, problems

    def _known(self, column: str, definitions: Definitions) -> bool:
        if not column:
            return True  # left out
        if column.startswith(CUSTOM_PREFIX):
            return column.removeprefix(CUSTOM_PREFIX) in definitions
        return column in self.columns


def _name_problem(name: str) -> Problem | None:
    """What is wrong with a column name as such (its meaning is checked once it is safe)."""
    if len(name) > COLUMN_NAME_MAX_LENGTH:
        shown = f"{visible(name[:40])}…"  # echoed in the answer: short, and visible
        return Problem(shown, f"is longer than {COLUMN_NAME_MAX_LENGTH} characters")
    if reason := unsafe_reason(name, multiline=False):
        return Problem(visible(name), reason)
    return None


def _address_cells(document: Mapping[str, Any]) -> dict[str, str]:
    """The first (primary) address: a CSV row has room for one."""
    addresses = document.get("addresses") or []
    if not addresses:
        return {}
    address = addresses[0]
    columns = _ENTRY_COLUMNS["addresses"]
    cells = {column: _text(address.get(key)) for column, key in columns.items()}
    cells["street"] = join(address.get("lines") or [])
    return cells


def _common_cells(record_id: UUID, document: Mapping[str, Any]) -> dict[str, str]:
    return {
        EXTERNAL_ID: str(record_id),
        **_address_cells(document),
        "tags": join(document.get("tags") or []),
    }


def _person_cells(record_id: UUID, document: Mapping[str, Any]) -> dict[str, str]:
    cells = _common_cells(record_id, document)
    cells |= {name: _text(document.get(name)) for name in ("given_name", "family_name")}
    for section, key, column in (("emails", "address", "email"), ("phones", "number", "phone")):
        by_type: dict[str, list[str]] = {}
        for point in document.get(section) or []:  # the primary one first, as imported
            by_type.setdefault(f"{column}.{point['type']}", []).append(point[key])
        cells |= {name: join(values) for name, values in by_type.items()}
    if roles := document.get("roles"):
        role = roles[0]
        cells |= {c: _text(role.get(k)) for c, k in _ENTRY_COLUMNS["roles"].items()}
    for important in document.get("important_dates") or []:
        if important["kind"] == "birthday":
            date = important["date"]
            year = f"{date['year']:04d}" if date.get("year") else "-"
            cells["birthday"] = f"{year}-{date['month']:02d}-{date['day']:02d}"
    preferences = document.get("preferences") or {}
    cells |= {name: _text(preferences.get(name)) for name in ("language", "preferred_channel")}
    return cells


def _organization_cells(record_id: UUID, document: Mapping[str, Any]) -> dict[str, str]:
    cells = _common_cells(record_id, document)
    names = ("name", "legal_name", "tax_id", "industry", "website", "partner_type", "parent_id")
    cells |= {name: _text(document.get(name)) for name in names}
    cells["kinds"] = join(document.get("kinds") or [])
    return cells


_ADDRESS_EXPORT = ("street", "city", "region", "postal_code", "country", "address_type")
PEOPLE = RecordFormat(
    PERSON,
    PEOPLE_COLUMNS,
    exported=(
        EXTERNAL_ID,
        "given_name",
        "family_name",
        *(f"email.{t}" for t in EmailType),
        *(f"phone.{t}" for t in PhoneType),
        *_ADDRESS_EXPORT,
        "organization_id",
        "job_title",
        "department",
        "birthday",
        "language",
        "preferred_channel",
        "tags",
    ),
    export=_person_cells,
)
ORGANIZATIONS = RecordFormat(
    ORGANIZATION,
    ORGANIZATION_COLUMNS,
    exported=(
        EXTERNAL_ID,
        "name",
        "legal_name",
        "tax_id",
        "industry",
        "website",
        "kinds",
        "partner_type",
        "parent_id",
        *_ADDRESS_EXPORT,
        "tags",
    ),
    export=_organization_cells,
)


@dataclass(frozen=True)
class Header:
    format: RecordFormat
    columns: tuple[str, ...]  # "" for a column left out
    definitions: Definitions
    region: str | None = None

    def parse(
        self, cells: Sequence[str], organizations: OrganizationLookup = lambda name: ()
    ) -> ValidRow | list[Problem]:
        """The row's profile, validated as a registration, or every problem found."""
        if len(cells) > len(self.columns):
            return [Problem("row", f"has {len(cells)} cells; the header has {len(self.columns)}")]
        row, unsafe = _Row(self.region), []
        for column, cell in zip(self.columns, cells, strict=False):  # trailing blanks may be cut
            if not column:
                continue
            if reason := unsafe_reason(cell, multiline=True):
                unsafe.append(Problem(column, reason))
            elif text := unprotect(clean(cell).strip()):
                self._cell(column)(row, text, column)
        _resolve_organization(row, organizations)
        consent = _consent_cells(row)
        if not row.problems and not unsafe:
            try:  # the common case in one pass: a valid row
                profile = self.format.sections.initial(row.profile, self.definitions)
            except RuleViolation as violation:
                row.problems = self._violations(row) or [_problem(row, violation)]
            else:
                return ValidRow(row.external_id, profile, row.profile, consent)
        else:
            row.problems += self._violations(row)
        # An unsafe cell was left out: its column's reason is the unsafe text, not a missing value.
        refused = {p.column for p in unsafe}
        problems = unsafe + [p for p in row.problems if p.column not in refused]
        order = {column: index for index, column in enumerate(("row", *self.columns))}
        return sorted(problems, key=lambda p: order.get(p.column, len(order)))

    def _cell(self, column: str) -> Cell:
        if column.startswith(CUSTOM_PREFIX):
            return _section(f"custom_fields.{column.removeprefix(CUSTOM_PREFIX)}")
        return self.format.columns[column]

    def _violations(self, row: _Row) -> list[Problem]:
        """Each section validated on its own, so that every faulty column is reported (a rule
        spanning sections is only checked once each section is valid)."""
        sections = self.format.sections
        problems = [Problem(n, "is required") for n in sections.required if n not in row.profile]
        for name, value in row.profile.items():
            try:
                sections.parse({name: value}, self.definitions)
            except RuleViolation as violation:
                problems.append(_problem(row, violation))
        return problems


def protect(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection): one that starts like a
    formula gets a leading apostrophe, which spreadsheets hide. Phone numbers stay as they are."""
    if cell[:1] in _FORMULA_START and not _NUMBER.fullmatch(cell):
        return f"'{cell}"
    return cell


def unprotect(cell: str) -> str:
    """The inverse of ``protect``, for files exported here and imported again."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in _FORMULA_START else cell


def split(text: str) -> list[str]:
    """The values of a multi-valued cell."""
    return [value.strip() for value in _SEPARATORS.split(text) if value.strip()]


def join(values: Sequence[Any]) -> str:
    """A multi-valued cell (the inverse of ``split``)."""
    return f"{VALUE_SEPARATOR} ".join(str(value) for value in values)


def _resolve_organization(row: _Row, organizations: OrganizationLookup) -> None:
    """A role's organization given by name becomes its id, if exactly one has that name."""
    role = row.entries.get("roles")
    if role is None or "organization" not in role:
        return
    name = role.pop("organization")
    if "organization_id" in role:
        row.problems.append(
            Problem("organization", "give organization or organization_id, not both")
        )
        return
    found = list(organizations(name))
    if len(found) == 1:
        role["organization_id"] = str(found[0])
        return
    del row.profile["roles"]  # reported here, not again as a role without an organization
    detail = (
        "no organization has this name"
        if not found
        else (f"{len(found)} organizations have this name: give organization_id instead")
    )
    row.problems.append(Problem("organization", detail))


def _problem(row: _Row, violation: RuleViolation) -> Problem:
    column, exact = row.column_of(violation.field)
    return Problem(column, violation.detail if exact else f"{violation.field}: {violation.detail}")


def _text(value: Any) -> str:
    """A single value as a cell: ``true``/``false`` for booleans, blank for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
