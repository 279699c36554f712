"""Run every benchmark and print ours vs raw side by side (ratio = ours / raw, higher is better)."""

from __future__ import annotations

import logging

from . import campaign, csv_import, e2e, eventstore, projection, query_360, relay, replay
from .common import HEADER


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    print(HEADER)
    for module in (eventstore, relay, projection, campaign, replay):
        for result in module.run():
            print(result.row(), flush=True)
    for lines in (csv_import.run, e2e.run, query_360.run):
        for line in lines():
            print(line, flush=True)


if __name__ == "__main__":
    main()
