"""End to end, as deployed: a business moves from HubSpot (issue 12, "Importing from another CRM").

Contacts runs as processes (api, relay, worker). Its export, as Excel saves it in Germany
(Windows-1252, `;`, national phone numbers, the business's own newsletter columns), is imported
with the ready HubSpot mapping; a dry run of next month's export reports what would change and
stores nothing; the update import changes two people and duplicates nobody; the directory finds
the people by accented names and e-mail, with their numbers in E.164 and their consent recorded.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from crm_platform.testing import eventually

pytestmark = pytest.mark.e2e

HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
    "Street Address", "City", "Country/Region", "Lifecycle Stage", "Contact owner", "Newsletter",
    "Newsletter since", "consent.channel", "consent.purpose",
]  # fmt: skip
CONSENT_COLUMNS = {"Newsletter": "consent.status", "Newsletter since": "consent.date"}


def people(run: str) -> list[list[str]]:
    """Four people, their e-mails unique to this run (the topic and directory are shared)."""
    return [
        ["5101", "Jörg", "Weiß", f"joerg.{run}@example.de", "030 1234567", "", "Hohe Straße 1",
         "Köln"],
        ["5102", "Renée", "Müller", f"renee.{run}@example.de", "+33 1 42 68 53 00", "",
         "Grand-Rue 2", "Kehl"],
        ["5103", "Søren", "Ærø", f"soren.{run}@example.de", "", "0151 23456789", "Förde 3",
         "Flensburg"],
        ["5104", "Zoë", "Façade", f"zoe.{run}@example.de", "089 12345678", "",
         "Maximilianstraße 4", "München"],
    ]  # fmt: skip


def export(rows: list[list[str]]) -> bytes:
    lines = [";".join(HEADER)]
    for row in rows:
        lines.append(";".join([*row, "DE", "lead", "Anna Owner", "granted", "2024-03-01", "email",
                               "marketing"]))  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def query(mode: str) -> str:
    columns = json.dumps(CONSENT_COLUMNS)
    return urlencode({"mapping": "hubspot", "region": "DE", "mode": mode, "columns": columns})


@pytest.fixture(scope="module")
def contacts(start, token) -> httpx.Client:
    api = start("crm-contacts-api", http=True)
    start("crm-contacts-relay")
    start("crm-contacts-worker")
    return httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def send(contacts: httpx.Client, path: str, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())}
    return contacts.post(path, content=body, headers=headers)


def imported(contacts: httpx.Client, body: bytes, mode: str) -> dict[str, Any]:
    response = send(contacts, f"/imports/people?{query(mode)}", body)
    assert response.status_code in (200, 202), response.text
    location = response.headers["Location"]

    def finished() -> dict[str, Any] | None:
        job = contacts.get(location).json()
        return job if job["status"] in ("completed", "failed") else None

    job = eventually(finished, what="the import", within=120)
    assert job["status"] == "completed", job
    return job


def found(contacts: httpx.Client, text: str) -> list[dict[str, Any]]:
    response = contacts.get("/customers", params={"q": text})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_a_hubspot_export_moves_in_and_next_months_export_updates_it(contacts: httpx.Client):
    run = uuid.uuid4().hex[:8]
    rows = people(run)

    first = imported(contacts, export(rows), "create")
    assert (first["created"], first["rejected"]) == (4, 0), first

    [joerg] = eventually(lambda: found(contacts, f"joerg.{run}") or None, what="Jörg listed")
    person = contacts.get(f"/customers/{joerg['id']}").json()
    assert (person["given_name"], person["family_name"]) == ("Jörg", "Weiß")
    assert [p["number"] for p in person["phones"]] == ["+49301234567"]
    consents = contacts.get(f"/customers/{joerg['id']}/consents").json()
    assert json.dumps(consents).count('"import"') >= 1, consents  # the source of the decision

    # A month later: Jörg moved, Zoë has a new number, and a row has a broken address.
    moved = [*rows[0][:6], "Domkloster 4", "Köln"]
    renumbered = [*rows[3][:4], "089 87654321", *rows[3][5:]]
    broken = ["5199", "Eve", "Mallory", "ceo,x@evil.test", "", "", "Unter den Linden 1", "Berlin"]
    later = export([moved, rows[1], rows[2], renumbered, broken])

    preview = send(contacts, f"/imports/people/dry-run?{query('update')}", later)
    assert preview.status_code == 200, preview.text
    actions = [row["action"] for row in preview.json()["rows"]]
    assert actions == ["updated", "unchanged", "unchanged", "updated", "rejected"]
    assert contacts.get(f"/customers/{joerg['id']}").json()["addresses"] == person["addresses"]

    second = imported(contacts, later, "update")
    assert (second["created"], second["updated"], second["unchanged"], second["rejected"]) == (
        0,
        2,
        2,
        1,
    ), second

    def moved_in_directory() -> list[dict[str, Any]] | None:
        listed = found(contacts, run)
        current = contacts.get(f"/customers/{joerg['id']}").json()
        return listed if current["addresses"][0]["lines"] == ["Domkloster 4"] else None

    listed = eventually(moved_in_directory, what="the update", within=60)
    assert len(listed) == 4  # the same four people, nobody twice
    [zoe] = found(contacts, f"zoe.{run}")
    numbers = [p["number"] for p in contacts.get(f"/customers/{zoe['id']}").json()["phones"]]
    assert numbers == ["+498987654321"]
    assert found(contacts, "Façade") and found(contacts, "facade")  # accents folded in search
