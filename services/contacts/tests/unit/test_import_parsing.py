"""Reading other systems' files: encodings, delimiters, column mappings, national phone numbers,
e-mail addresses as a validator reads them, and consent columns."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from crm_contacts.api.imports import ImportSettings
from crm_contacts.application import ContactsApplication
from crm_contacts.application.csv_records import UnknownEncoding, decoded, records
from crm_contacts.domain.contact_points import email_address, phone_number, phone_region
from crm_contacts.domain.csv_rows import PEOPLE, ConsentCells, InvalidHeader, Problem, ValidRow
from crm_contacts.domain.errors import RuleViolation
from crm_contacts.domain.import_mappings import HUBSPOT_CONTACTS, SALESFORCE_CONTACTS, combined

from .conftest import WRITE, assert_problem, key

pytestmark = pytest.mark.unit

TEXT = "family_name{d}given_name{d}city\r\nMüller{d}Zoë{d}Köln\r\nGarçon{d}Renée{d}Besançon\r\n"


def read(data: bytes, declared: str | None = None) -> tuple[list[list[str]], str, str]:
    csv_text = decoded(io.BytesIO(data), declared)
    rows = list(records(csv_text.text, delimiter=csv_text.delimiter))
    assert all(isinstance(row, list) for row in rows)
    return rows, csv_text.encoding, csv_text.delimiter  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("encoding", "found"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("cp1252", "cp1252"),
    ],
)
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_encodings_and_delimiters_of_spreadsheet_exports_are_found(
    encoding: str, found: str, delimiter: str
) -> None:
    text = TEXT.format(d=delimiter) * 20  # enough text for the encoding to tell

    rows, encoding_found, delimiter_found = read(text.encode(encoding))

    assert delimiter_found == delimiter
    assert rows[1] == ["Müller", "Zoë", "Köln"]
    assert rows[2] == ["Garçon", "Renée", "Besançon"]
    assert encoding_found == found


def test_a_declared_charset_is_taken_as_it_is() -> None:
    rows, encoding, _ = read("family_name\r\nMüller\r\n".encode("latin-1"), "latin-1")

    assert (rows[1], encoding) == (["Müller"], "latin-1")


def test_declared_utf8_may_start_with_excels_byte_order_mark() -> None:
    rows, _, _ = read("family_name\r\nMüller\r\n".encode("utf-8-sig"), "utf-8")

    assert rows == [["family_name"], ["Müller"]]


def test_bytes_not_of_a_declared_encoding_spoil_only_their_record() -> None:
    csv_text = decoded(io.BytesIO(b"family_name\r\nM\xfcller\r\nMeier\r\n"), "utf-8")

    assert list(records(csv_text.text)) == [["family_name"], ["M\ufffdller"], ["Meier"]]
    assert csv_text.lossy


def test_a_quoted_delimiter_is_part_of_its_cell() -> None:
    rows, _, delimiter = read(b'family_name;given_name\r\n"Smith; Jones";"Ann\r\nMarie"\r\n')

    assert (delimiter, rows[1]) == (";", ["Smith; Jones", "Ann\r\nMarie"])


def test_windows_1252_is_told_from_windows_1250_where_they_differ() -> None:
    text = "name;city\r\nNúñez;España\r\nCafé;5 €\r\n"

    rows, encoding, _ = read(text.encode("cp1252"))

    assert (encoding, rows[1], rows[2]) == ("cp1252", ["Núñez", "España"], ["Café", "5 €"])


@pytest.mark.parametrize(
    "noise",
    [bytes(range(256)) * 50, b"given_name,family_name\r\nbad\xed\xa0\x80\xff,Poison\r\n"],
)
def test_a_file_whose_encoding_cannot_be_told_is_refused(noise: bytes) -> None:
    with pytest.raises(UnknownEncoding):
        decoded(io.BytesIO(noise))


def test_a_ready_mapping_reads_a_hubspot_export_and_leaves_out_other_columns() -> None:
    names = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Lifecycle Stage"]
    header = PEOPLE.header(names, {}, combined(HUBSPOT_CONTACTS, None), "DE")

    row = header.parse(["101", "Jörg", "Weiß", "jw@example.de", "030 1234567", "lead"])

    assert header.columns == (
        "external_id",
        "given_name",
        "family_name",
        "email.work",
        "phone.work",
        "",
    )
    assert isinstance(row, ValidRow)
    assert row.external_id == "101"
    assert row.profile["phones"] == [{"number": "+49301234567", "type": "work", "primary": True}]
    assert row.patch.keys() == {"given_name", "family_name", "emails", "phones"}


def test_the_requests_own_mapping_goes_over_the_ready_one() -> None:
    mapping = combined(SALESFORCE_CONTACTS, {"lastname": None, "Nachname": "family_name"})
    header = PEOPLE.header(["Id", "LastName", "Nachname"], {}, mapping)

    assert header.columns == ("external_id", "", "family_name")


def test_a_mapping_to_no_column_of_ours_is_refused() -> None:
    with pytest.raises(InvalidHeader) as refused:
        PEOPLE.header(["Surname", "Mail"], {}, {"surname": "family_name", "mail": "e-mail"})

    assert refused.value.problems == (Problem("Mail", "is mapped to 'e-mail': no such column"),)


@pytest.mark.parametrize(
    ("raw", "region", "number"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+44 20 7946 0958", "DE", "+442079460958"),
        ("0044 20 7946 0958", None, "+442079460958"),
        ("(415) 555-0100", "US", "+14155550100"),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw: str, region: str | None, number: str) -> None:
    assert phone_number(raw, "phone", region) == number


@pytest.mark.parametrize(
    ("raw", "region"), [("030 1234567", None), ("12", "DE"), ("call me", "DE")]
)
def test_numbers_that_are_no_phone_numbers_are_refused(raw: str, region: str | None) -> None:
    with pytest.raises(RuleViolation, match="not a valid phone number"):
        phone_number(raw, "phone", region)


def test_a_region_must_have_phone_numbers() -> None:
    assert phone_region(" de ") == "DE"
    with pytest.raises(RuleViolation):
        phone_region("XX")


@pytest.mark.parametrize(
    "raw", ['"ceo,x"@evil.test', "ceo,x@evil.test", "a@b", "two@@example.org", "a b@example.org"]
)
def test_addresses_a_mailer_would_split_or_refuse_are_refused(raw: str) -> None:
    with pytest.raises(RuleViolation, match="not an e-mail address"):
        email_address(raw)


@pytest.mark.parametrize("address", ['"ceo,x"@evil.test', "ceo,x@evil.test"])
def test_the_api_refuses_an_address_mailers_split_in_two(
    client: TestClient, application: ContactsApplication, address: str
) -> None:
    body = {"family_name": "Mallory", "emails": [{"address": address}]}

    response = client.post("/customers", json=body, headers={**WRITE, **key()})

    problem = assert_problem(response, 422, "body.emails.0.address")
    assert problem["errors"][0]["detail"].startswith("not an e-mail address: ")
    assert application.recorder.max_notification_id() in (None, 0)


def test_the_api_stores_a_valid_address_lower_case(client: TestClient) -> None:
    body = {"family_name": "Lovelace", "emails": [{"address": "Ada.Lovelace@Example.ORG"}]}

    response = client.post("/customers", json=body, headers={**WRITE, **key()})

    assert response.status_code == 201, response.text
    assert response.json()["emails"][0]["address"] == "ada.lovelace@example.org"


def test_addresses_are_stored_lower_case() -> None:
    assert email_address(" Ada.Lovelace@Example.ORG ") == "ada.lovelace@example.org"


def test_an_import_row_with_a_bad_address_names_its_column() -> None:
    header = PEOPLE.header(["family_name", "email"], {})

    problems = header.parse(["Smith", "ceo,x@evil.test"])

    assert isinstance(problems, list)
    assert [p.column for p in problems] == ["email"]
    assert "invalid characters" in problems[0].message


def test_consent_columns_make_a_decision() -> None:
    names = ["family_name", "consent.channel", "consent.purpose", "consent.status", "consent.date"]
    header = PEOPLE.header(names, {})

    row = header.parse(["Smith", "Email", "marketing", "withdrawn", "2024-03-01"])

    assert isinstance(row, ValidRow)
    decided = datetime(2024, 3, 1, tzinfo=UTC)
    assert row.consent == ConsentCells("email", "marketing", "withdrawn", "import", decided)


def test_a_consent_without_its_date_is_refused() -> None:
    header = PEOPLE.header(["family_name", "consent.channel", "consent.date"], {})

    problems = header.parse(["Smith", "email", "yesterday"])

    assert isinstance(problems, list)
    assert {p.column for p in problems} == {"consent.purpose", "consent.status", "consent.date"}


def test_the_default_region_setting_is_checked_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTS_IMPORT_DEFAULT_REGION", "de")
    assert ImportSettings().default_region == "DE"
    monkeypatch.setenv("CONTACTS_IMPORT_DEFAULT_REGION", "XX")
    with pytest.raises(ValueError, match="default_region"):
        ImportSettings()
