"""The published contract documents: ``python -m crm_events.catalog {generate,check}``.

``generate`` writes the JSON Schema of every registered event and the AsyncAPI document.
``check`` (CI) fails when those committed files differ from what the code generates, or when the
code changed a published schema incompatibly. The baselines are the committed files in the working
tree and, inside git, the versions at ``HEAD``: a developer who breaks a schema and regenerates
still meets the HEAD comparison before committing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .asyncapi import asyncapi_document
from .compat import breaking_changes
from .registry import EventRegistry
from .registry import registry as default_registry
from .schemas import SCHEMA_DIR, event_schema, schema_path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # libs/events
ASYNCAPI_FILE = "asyncapi.yaml"


def generated_files(registry: EventRegistry) -> dict[str, str]:
    """File contents by path relative to the package root, serialized deterministically."""
    files = {schema_path(model): _json(event_schema(model)) for model in registry}
    files[ASYNCAPI_FILE] = yaml.safe_dump(
        asyncapi_document(registry), sort_keys=False, allow_unicode=True, width=100
    )
    return files


def generate(root: Path, registry: EventRegistry) -> list[str]:
    """Write every generated file; returns the ones that changed."""
    changed = []
    for relative, text in generated_files(registry).items():
        path = root / relative
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(relative)
    return changed


def check(root: Path, registry: EventRegistry) -> tuple[list[str], list[str]]:
    """(out-of-date files, breaking changes) of the committed documents under ``root``."""
    expected = generated_files(registry)
    committed = {
        path.relative_to(root).as_posix(): path.read_text()
        for path in sorted((root / SCHEMA_DIR).rglob("*.json"))
    }
    if (root / ASYNCAPI_FILE).exists():
        committed[ASYNCAPI_FILE] = (root / ASYNCAPI_FILE).read_text()
    stale = [f"{p} (missing)" for p in expected if p not in committed]
    stale += [f"{p} (differs)" for p in expected if p in committed and committed[p] != expected[p]]
    stale += [f"{p} (no registered event)" for p in committed if p not in expected]
    breaking = _breaking(committed, expected)
    breaking += _breaking(_head_schemas(root), expected)
    return stale, list(dict.fromkeys(breaking))


def _breaking(baseline: dict[str, str], expected: dict[str, str]) -> list[str]:
    errors = []
    for path, text in baseline.items():
        if not path.startswith(f"{SCHEMA_DIR}/"):
            continue
        if path not in expected:
            errors.append(f"{path}: event type removed (no registered model)")
            continue
        changes = breaking_changes(json.loads(text), json.loads(expected[path]))
        errors += [f"{path}: {change}" for change in changes]
    return errors


def _head_schemas(root: Path) -> dict[str, str]:
    """Schema files as committed at ``HEAD``; none outside git or before the first commit."""
    try:
        listing = _git(root, "ls-tree", "-r", "--name-only", "HEAD", "--", SCHEMA_DIR)
        return {path: _git(root, "show", f"HEAD:./{path}") for path in listing.splitlines()}
    except (OSError, subprocess.CalledProcessError):
        return {}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None, registry: EventRegistry = default_registry) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_events.catalog", description=__doc__)
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("--root", type=Path, default=PACKAGE_ROOT, help="the libs/events folder")
    args = parser.parse_args(argv)
    if args.command == "generate":
        changed = generate(args.root, registry)
        print("\n".join(f"wrote {_shown(args.root, p)}" for p in changed) or "up to date")
        return 0
    stale, breaking = check(args.root, registry)
    _report("Out of date; run `python -m crm_events.catalog generate`:", args.root, stale)
    _report("Breaking changes; publish a new major version on a new topic:", args.root, breaking)
    if stale or breaking:
        return 1
    print(f"{len(generated_files(registry))} contract documents up to date and compatible")
    return 0


def _report(heading: str, root: Path, problems: list[str]) -> None:
    if problems:
        print(heading, *(f"  {_shown(root, p)}" for p in problems), sep="\n", file=sys.stderr)


def _shown(root: Path, problem: str) -> str:
    """A problem about a file, named relative to the working directory."""
    return f"{os.path.relpath(root)}/{problem}"


if __name__ == "__main__":
    sys.exit(main())
