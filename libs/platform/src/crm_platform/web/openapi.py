"""Committed OpenAPI documents: write them, or check that the committed ones match the code.

python -m crm_platform.web.openapi crm_analytics.bootstrap:build_api services/analytics/openapi.json
python -m crm_platform.web.openapi crm_contacts.bootstrap:SPEC.build_api openapi.json --check
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def render(app: FastAPI) -> str:
    """Stable text: sorted keys, two-space indent, one trailing newline."""
    document = openapi_document(app)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_or_check(app: FastAPI, path: Path, *, check: bool) -> bool:
    """Return True when the committed document is current (after writing it, unless checking)."""
    text = render(app)
    current = path.exists() and path.read_text() == text
    if not check and not current:
        path.write_text(text)
    return current or not check


def load_app(target: str) -> FastAPI:
    """``module:attribute`` naming an app, or a factory called without arguments."""
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise ValueError(f"expected module:factory, got {target!r}")
    found: Any = functools.reduce(
        getattr, attribute.split("."), importlib.import_module(module_name)
    )
    app = found if isinstance(found, FastAPI) else found()
    if not isinstance(app, FastAPI):
        raise TypeError(f"{target} gave {type(app).__name__}, not a FastAPI application")
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check a service's OpenAPI document.")
    parser.add_argument("target", help="module:factory of the FastAPI application")
    parser.add_argument("path", type=Path, help="the committed JSON document")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    args = parser.parse_args(argv)
    app = load_app(args.target)
    if write_or_check(app, args.path, check=args.check):
        print(f"{args.path}: {'up to date' if args.check else 'written'}")
        return 0
    old = args.path.read_text().splitlines() if args.path.exists() else []
    diff = difflib.unified_diff(old, render(app).splitlines(), str(args.path), "code", lineterm="")
    print(
        f"{args.path} differs from the code of {args.target}; regenerate it with:", file=sys.stderr
    )
    print(f"  python -m crm_platform.web.openapi {args.target} {args.path}", file=sys.stderr)
    print("\n".join(list(diff)[:60]), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
