"""Run every benchmark and print ours vs raw side by side (ratio = ours / raw, higher is better)."""

from __future__ import annotations

import logging

from . import e2e, eventstore, projection, relay
from .common import HEADER


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    print(HEADER)
    for module in (eventstore, relay, projection):
        for result in module.run():
            print(result.row(), flush=True)
    for line in e2e.run():
        print(line, flush=True)


if __name__ == "__main__":
    main()
