"""``python -m crm_events.catalog``: the committed documents match the code, and stay compatible."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from crm_events import registry
from crm_events.asyncapi import message_id
from crm_events.catalog import ASYNCAPI_FILE, PACKAGE_ROOT, generated_files, main
from crm_events.contacts import CustomerRegistered
from crm_events.schemas import SCHEMA_DIR, schema_path

pytestmark = pytest.mark.unit


@pytest.fixture
def committed_copy(tmp_path: Path) -> Path:
    """The committed documents, copied outside git (so only the working-tree baseline applies)."""
    shutil.copytree(PACKAGE_ROOT / SCHEMA_DIR, tmp_path / SCHEMA_DIR)
    shutil.copy(PACKAGE_ROOT / ASYNCAPI_FILE, tmp_path / ASYNCAPI_FILE)
    return tmp_path


def test_check_passes_on_the_committed_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0, capsys.readouterr().err


def test_generation_is_deterministic() -> None:
    assert generated_files(registry) == generated_files(registry)


def test_schemas_are_draft_2020_12_with_the_dataschema_as_id() -> None:
    schema = json.loads(generated_files(registry)[schema_path(CustomerRegistered)])

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "urn:crm:events:CustomerRegistered:v1"
    assert schema["title"] == "CustomerRegistered v1"


def test_asyncapi_has_a_send_operation_per_topic_and_every_message() -> None:
    document = yaml.safe_load(generated_files(registry)[ASYNCAPI_FILE])

    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == set(registry.topics())
    assert {op["action"] for op in document["operations"].values()} == {"send"}
    assert len(document["operations"]) == len(registry.topics())
    for model in registry:
        message = document["components"]["messages"][message_id(registry, model)]
        assert message["payload"] == {"$ref": schema_path(model)}
        headers = message["headers"]["properties"]
        assert headers["content-type"]["const"] == "application/cloudevents+json"
        assert not [name for name in headers if name.startswith("ce_")], "structured mode only"
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_generate_then_check_passes_in_an_empty_folder(tmp_path: Path) -> None:
    assert main(["generate", "--root", str(tmp_path)]) == 0
    assert main(["check", "--root", str(tmp_path)]) == 0


def test_check_names_files_that_differ_or_are_missing(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (committed_copy / ASYNCAPI_FILE).write_text("asyncapi: 3.0.0\n")
    (committed_copy / schema_path(CustomerRegistered)).unlink()

    assert main(["check", "--root", str(committed_copy)]) == 1
    err = capsys.readouterr().err
    assert f"{ASYNCAPI_FILE} (differs)" in err
    assert f"{schema_path(CustomerRegistered)} (missing)" in err
    assert "python -m crm_events.catalog generate" in err


def test_check_reports_a_breaking_change_against_the_committed_schema(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As if the published revision had a field the code has since dropped.
    path = committed_copy / schema_path(CustomerRegistered)
    published = json.loads(path.read_text())
    published["$defs"]["CustomerRegistered"]["properties"]["nickname"] = {"type": "string"}
    path.write_text(json.dumps(published))

    assert main(["check", "--root", str(committed_copy)]) == 1
    err = capsys.readouterr().err
    assert f"{schema_path(CustomerRegistered)}: $.data.nickname: property removed" in err


def test_check_reports_a_removed_event_type(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orphan = (
        committed_copy / SCHEMA_DIR / "crm.contacts.customer.v1" / "CustomerMerged.v1.schema.json"
    )
    orphan.write_text("{}\n")

    assert main(["check", "--root", str(committed_copy)]) == 1
    err = capsys.readouterr().err
    assert "CustomerMerged.v1.schema.json: event type removed" in err


def test_check_compares_with_head_so_regenerating_cannot_hide_a_break(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = committed_copy / schema_path(CustomerRegistered)
    published = json.loads(path.read_text())
    published["$defs"]["CustomerRegistered"]["properties"]["nickname"] = {"type": "string"}
    path.write_text(json.dumps(published))
    _git(committed_copy, "init", "--quiet")
    _git(committed_copy, "add", ".")
    _git(committed_copy, "commit", "--quiet", "--message", "published")
    main(["generate", "--root", str(committed_copy)])  # the working tree now matches the code

    assert main(["check", "--root", str(committed_copy)]) == 1
    err = capsys.readouterr().err
    assert "(differs)" not in err
    assert f"{schema_path(CustomerRegistered)}: $.data.nickname: property removed" in err


def _git(root: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "-C", str(root), *identity, *args], check=True)
