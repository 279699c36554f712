"""Validate the custom resources of a rendered manifest against deploy/k8s/schemas/.

    python scripts/validate-custom-resources.py RENDERED.yaml BUILTIN.yaml

Every document whose kind has a schema there (``<group>/<version>/<Kind>.json``) is validated
strictly; all other documents are written to BUILTIN.yaml for kubernetes-validate, which knows
Kubernetes' own kinds and fails on any other. So every kind is validated by one or the other.
Prints one line per failure and exits 1, or prints what it validated.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent.parent / "deploy/k8s/schemas"


def load_validators() -> dict[str, Draft202012Validator]:
    """Validators by apiVersion/kind, resolving ``urn:crm:k8s:common`` references."""
    common = json.loads((SCHEMAS / "common.json").read_text())
    registry = Registry().with_resource(common["$id"], Resource.from_contents(common))
    validators = {}
    for path in sorted(SCHEMAS.glob("*/*/*.json")):
        group, version, kind = path.relative_to(SCHEMAS).with_suffix("").parts
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        validators[f"{group}/{version}/{kind}"] = Draft202012Validator(schema, registry=registry)
    return validators


def validate(documents: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]], Counter]:
    """(errors, the documents left to kubernetes-validate, how many of each custom kind)."""
    validators = load_validators()
    errors: list[str] = []
    builtin: list[dict[str, Any]] = []
    checked: Counter = Counter()
    for document in documents:
        key = f"{document.get('apiVersion')}/{document.get('kind')}"
        validator = validators.get(key)
        if validator is None:
            builtin.append(document)
            continue
        checked[document["kind"]] += 1
        name = document.get("metadata", {}).get("name", "?")
        errors.extend(
            f"{document['kind']} {name}: {'/'.join(map(str, error.absolute_path)) or '.'}: "
            f"{error.message}"
            for error in validator.iter_errors(document)
        )
    return errors, builtin, checked


def main(argv: list[str]) -> int:
    rendered, builtin_out = map(Path, argv)
    documents = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    errors, builtin, checked = validate(documents)
    builtin_out.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
    for error in errors:
        print(error)
    if errors:
        return 1
    print("custom resources valid: " + ", ".join(f"{n} {k}" for k, n in sorted(checked.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
