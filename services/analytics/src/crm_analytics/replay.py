"""``crm-analytics-replay <model>... | --all``: rebuild read models from the beginning of their topics.

Each model is rebuilt into a new generation while the live worker keeps serving the current one,
then the alias switches to it (see ``application.rebuild``). Each phase is logged on
standard error, with the events read: as a progress bar in a terminal, as a line every few
seconds otherwise (``make up`` keeps them in a log file). The final report gives events read per
second per model.

A broker that does not answer yet (a freshly started Kafka has no group coordinator for a few
seconds) or restarts meanwhile is waited for, in all at most ``--patience-seconds``; past that
the command gives up with a message saying what it waited for, and exits with status 1 (a
generation it was building is abandoned, so running it again starts afresh).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from functools import partial

from pymongo.errors import ConnectionFailure
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .application.patience import OutOfPatience, Patience
from .application.rebuild import RebuildReport, rebuild
from .bootstrap import Analytics, read_models

log = logging.getLogger("crm_analytics.replay")


def parse(arguments: Sequence[str] | None = None) -> argparse.Namespace:
    names = [model.name for model in read_models()]
    parser = argparse.ArgumentParser(prog="crm-analytics-replay", description=__doc__)
    parser.add_argument("models", nargs="*", metavar="model", help=f"one of {', '.join(names)}")
    parser.add_argument("--all", action="store_true", help="rebuild every read model")
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=5.0,
        help="wait after the switch for live batches under way (longer than one batch takes)",
    )
    parser.add_argument("--keep-previous", action="store_true", help="do not drop the old data")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="first abandon a generation that an interrupted rebuild left building",
    )
    parser.add_argument(
        "--patience-seconds",
        type=float,
        default=180.0,
        help="how long to wait in all for Kafka while it does not answer, before giving up",
    )
    options = parser.parse_args(arguments)
    unknown = sorted(set(options.models) - set(names))
    if unknown or not (options.all or options.models):
        parser.error(f"name models among {', '.join(names)}, or give --all")
    options.models = names if options.all else options.models
    return options


PROGRESS_LINE_SECONDS = 5.0  # between two progress lines, when not in a terminal


class Shown:
    """The events read per model: a bar in a terminal, a log line now and then otherwise."""

    def __init__(self, bar: Progress, console: Console) -> None:
        self.bar = bar
        self.lines = not console.is_terminal
        self._last_line = 0.0

    def task(self, model: str) -> TaskID:
        return self.bar.add_task(model, total=None)

    def progress(self, model: str, task: TaskID, done: int, total: int) -> None:
        self.bar.update(task, completed=done, total=total)
        if self.lines and time.monotonic() - self._last_line >= PROGRESS_LINE_SECONDS:
            self._last_line = time.monotonic()
            log.info("%s: %d of %d events read", model, done, total)


async def replay(options: argparse.Namespace, console: Console) -> list[RebuildReport]:
    analytics = Analytics.open()
    models, kafka = analytics.catalog, analytics.kafka
    patience = Patience(seconds=options.patience_seconds)
    reports = []
    try:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            shown = Shown(bar, console)
            for name in options.models:
                building = (await models.alias(name)).building
                if options.restart and building is not None:
                    log.info("%s: abandoning generation %d, left building", name, building)
                    await models.abandon(name, building)
                task = shown.task(name)
                rebuilt = await rebuild(
                    models.models[name],
                    models,
                    kafka.bootstrap_servers,
                    live_group_id=kafka.group(models.models[name].group),
                    progress=partial(shown.progress, name, task),
                    settle_seconds=options.settle_seconds,
                    keep_previous=options.keep_previous,
                    patience=patience,
                )
                reports.append(rebuilt)
                log.info("%s: rebuilt from %d events", name, rebuilt.events)
    finally:
        await analytics.close()
    return reports


def report(reports: Sequence[RebuildReport]) -> Table:
    table = Table(title="Rebuilt read models")
    for column in ("model", "generation", "events", "left out", "seconds", "events/s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in reports:
        table.add_row(
            r.model,
            f"{r.previous} -> {r.generation}",
            str(r.events),
            str(r.skipped),
            f"{r.seconds:.1f}",
            f"{r.events_per_second:,.0f}",
        )
    return table


def log_handler(console: Console) -> logging.Handler:
    """Lines above the progress bars in a terminal; plain timestamped lines in a log file."""
    if console.is_terminal:
        return RichHandler(console=console, show_path=False, markup=False)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    return handler


def main(arguments: Sequence[str] | None = None) -> int:
    options = parse(arguments)
    console = Console(stderr=True)
    logging.basicConfig(level=logging.INFO, handlers=[log_handler(console)])
    # aiokafka logs each connection it fails to make; the patience says what is waited for.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        reports = asyncio.run(replay(options, console))
    except OutOfPatience as error:
        log.error("crm-analytics-replay %s: %s", " ".join(options.models), error)
        log.error("Is Kafka up (CRM_KAFKA_BOOTSTRAP_SERVERS)? Run the command again once it is.")
        return 1
    except ConnectionFailure as error:  # after PyMongo's own wait for a server
        log.error("crm-analytics-replay: MongoDB (CRM_MONGODB_URI) does not answer: %s", error)
        return 1
    Console().print(report(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
