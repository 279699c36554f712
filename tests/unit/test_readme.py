"""The README's "Follow one event" names files and definitions that exist: a move or a rename
that forgets the guide fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def one_event_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Follow one event")
    return readme[start : readme.index("\n#", start + 1)]


def test_every_file_of_one_events_path_exists() -> None:
    files = re.findall(r"`((?:services|libs)/[^`]+\.py)`", one_event_section())
    assert len(files) >= 8
    assert [f for f in files if not (ROOT / f).is_file()] == []


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("services/contacts/src/crm_contacts/api/customers.py", "class ProfileRoutes"),
        ("services/contacts/src/crm_contacts/application/people.py", "def register_customer"),
        ("libs/platform/src/crm_platform/commands.py", "def create"),
        ("services/contacts/src/crm_contacts/domain/customer.py", "def register"),
    ],
)
def test_the_definitions_it_names_are_where_it_says(file: str, name: str) -> None:
    assert name in (ROOT / file).read_text()
