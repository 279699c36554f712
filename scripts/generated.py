"""Writes a generated file, or with ``check`` says whether the committed one is stale (used by the
scripts/generate-*.py of `make generate` and `make check`)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(output: Path, text: str, *, check: bool, summary: str) -> int:
    """The exit status: 1 when ``check`` finds ``output`` stale, else 0 (after writing it)."""
    relative = output.relative_to(ROOT)
    if check:
        if not output.exists() or output.read_text() != text:
            print(f"{relative} is stale: run `make generate`", file=sys.stderr)
            return 1
        print(f"{relative} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {relative} ({summary})")
    return 0
