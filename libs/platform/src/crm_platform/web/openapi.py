"""Committed OpenAPI documents: write them, or check that the committed ones match the code."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI


def render(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_or_check(app: FastAPI, path: Path, *, check: bool) -> bool:
    """Return True when the committed document is current (after writing it, unless checking)."""
    text = render(app)
    current = path.exists() and path.read_text() == text
    if not check and not current:
        path.write_text(text)
    return current or not check
