"""CSV import of 100,000 people (streamed, validated, registered in batches of 500 per event-store
transaction, personal data sealed per person) vs raw psycopg inserts of the same rows into a plain
table, in batches as large (executemany, a commit each): rate, and peak memory of each as a process of its own (resident set size, so the
interpreter and libraries count too: what matters is that it stays flat as files grow).
"""

from __future__ import annotations

import csv
import random
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import psycopg

from crm_contacts.application.imports import BATCH_SIZE
from crm_platform.settings import PostgresSettings

from .common import Result, fresh_database

HEADER = [
    "external_id",
    "given_name",
    "family_name",
    "email.work",
    "phone.mobile",
    "street",
    "city",
    "postal_code",
    "country",
    "tags",
]
RAW_TABLE = """CREATE TABLE raw_people (
    external_id text PRIMARY KEY, given_name text, family_name text, email text, phone text,
    street text, city text, postal_code text, country text, tags text)"""
_SYLLABLES = "an be ca do el fi ga ho is ju ka lo ma ne ol pa ri sa to ul va we yo zu".split()


def write_people(path: Path, rows: int, seed: int = 1) -> None:
    """Realistic people: names from syllables (some shared, as real names are), one e-mail,
    one phone and one address each."""
    rng = random.Random(seed)

    def word(syllables: int) -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()

    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for n in range(rows):
            given, family = word(2), word(3)
            writer.writerow(
                [
                    f"bench-{n}",
                    given,
                    family,
                    f"{given}.{family}.{n}@example.org".lower(),
                    f"+4930{1_000_000 + n}",
                    f"{word(2)}straße {n % 200 + 1}",
                    word(2),
                    f"{10_000 + n % 89_999}",
                    rng.choice(["DE", "FR", "GB", "ES", "IT"]),
                    rng.choice(["prospect", "customer; vip", "newsletter", ""]),
                ]
            )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _import(database: str, path: str) -> tuple[float, float, dict[str, Any]]:
    """In a process of its own: import the file; seconds, peak MiB and the job's counts."""
    from crm_contacts.application.directory import Directory, RecordType
    from crm_contacts.application.imports import Imports
    from crm_contacts.bootstrap import build_application

    application = build_application(PostgresSettings(database=database))
    try:
        imports = Imports(application, Directory.of(application))
        imports.create_tables()
        started = time.perf_counter()
        with open(path, "rb") as file:
            upload = imports.open(RecordType.PERSON, file)
            job, _ = imports.begin(
                RecordType.PERSON, key="bench", principal="bench", file_sha256=""
            )
            job = imports.run(job, upload, key="bench", principal="bench")
        seconds = time.perf_counter() - started
    finally:
        application.close()
    counts = {"status": job.status.value, "created": job.created, "rejected": job.rejected}
    return seconds, _peak_mib(), counts


def _insert(database: str, path: str) -> tuple[float, float]:
    """In a process of its own: insert the same rows into a plain table, as many per commit as
    the import registers per transaction; seconds and peak MiB."""
    columns = _raw_columns()
    statement = (
        f"INSERT INTO raw_people ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with psycopg.connect(PostgresSettings().dsn(database)) as conn:
        conn.execute(RAW_TABLE)
        conn.commit()
        started = time.perf_counter()
        with open(path, newline="", encoding="utf-8") as file, conn.cursor() as cursor:
            rows = csv.reader(file)
            next(rows)
            while batch := list(islice(rows, BATCH_SIZE)):
                cursor.executemany(statement, batch)
                conn.commit()
        return time.perf_counter() - started, _peak_mib()


def _raw_columns() -> list[str]:
    return [column.split(".")[0] for column in HEADER]


def _in_child(function: Any, *args: Any) -> Any:
    """Run in a fresh process, so that its peak memory is this work's alone."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def run(rows: int = 100_000) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        write_people(path, rows)
        file_mib = path.stat().st_size / 1024**2
        with fresh_database("csv") as database:
            ours, ours_mib, counts = _in_child(_import, database, str(path))
            raw, raw_mib = _in_child(_insert, database, str(path))
    if counts["created"] != rows:
        raise AssertionError(f"the import did not register every row: {counts}")
    rate = Result(f"csv import, {rows:,} people", rows / ours, rows / raw, "rows/s")
    memory = (
        f"{'csv import peak memory (RSS, MiB)':<44} {ours_mib:>12,.0f} {raw_mib:>12,.0f}"
        f" {'MiB':<9} {raw_mib / ours_mib:>6.2f}   (file {file_mib:,.1f} MiB)"
    )
    return [rate.row(), memory]
