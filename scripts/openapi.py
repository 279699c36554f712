"""Write (or with --check, verify) the committed OpenAPI document of every service."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from crm_platform.web.openapi import write_or_check

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["contacts", "sales", "marketing", "service-desk", "analytics"]


def service_app(name: str):
    bootstrap = importlib.import_module(f"crm_{name.replace('-', '_')}.bootstrap")
    return bootstrap.SPEC.build_api()  # every service describes itself with a ServiceSpec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    parser.add_argument(
        "--service", choices=SERVICES, action="append", help="only this one (repeatable)"
    )
    args = parser.parse_args()
    services = args.service or SERVICES
    stale = []
    for name in services:
        path = ROOT / "services" / name / "openapi.json"
        if not write_or_check(service_app(name), path, check=args.check):
            stale.append(str(path.relative_to(ROOT)))
    if stale:
        print("OpenAPI documents differ from the code; run `make generate`:", *stale, sep="\n  ")
        return 1
    print(f"{len(services)} OpenAPI documents {'up to date' if args.check else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
