"""``crm-analytics-replay <model>... | --all``: rebuild read models from the beginning of their topics.

Each model is rebuilt into a new generation while the live worker keeps serving the current one,
then the alias switches to it (see ``application.readmodels.rebuild``). A progress bar shows the
events read; the final report gives events read per second per model.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crm_platform.settings import KafkaSettings

from .application.readmodels import RebuildReport, live_group, rebuild
from .bootstrap import AnalyticsMongoSettings, catalog, mongo_client, read_models


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
    options = parser.parse_args(arguments)
    unknown = sorted(set(options.models) - set(names))
    if unknown or not (options.all or options.models):
        parser.error(f"name models among {', '.join(names)}, or give --all")
    options.models = names if options.all else options.models
    return options


async def replay(options: argparse.Namespace, console: Console) -> list[RebuildReport]:
    mongo, kafka = AnalyticsMongoSettings(), KafkaSettings()
    client = mongo_client(mongo)
    models = catalog(client, mongo)
    reports = []
    try:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            for name in options.models:
                building = (await models.alias(name)).building
                if options.restart and building is not None:
                    await models.abandon(name, building)
                task = bar.add_task(name, total=None)
                reports.append(
                    await rebuild(
                        models.models[name],
                        models,
                        kafka.bootstrap_servers,
                        live_group_id=kafka.group(live_group(models.models[name])),
                        progress=lambda done, total, task=task: bar.update(
                            task, completed=done, total=total
                        ),
                        settle_seconds=options.settle_seconds,
                        keep_previous=options.keep_previous,
                    )
                )
    finally:
        await client.close()
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


def main(arguments: Sequence[str] | None = None) -> int:
    options = parse(arguments)
    console = Console(stderr=True)
    reports = asyncio.run(replay(options, console))
    Console().print(report(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
