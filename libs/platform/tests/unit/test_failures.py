"""The platform's one classification of failures: a server's (waited out) or a record's
(quarantined, dead-lettered); and what the quarantine keeps of an error."""

from __future__ import annotations

import eventsourcing.persistence
import psycopg
import psycopg.errors
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
)
from pymongo.errors import AutoReconnect, DuplicateKeyError

from crm_platform.failures import is_transient
from crm_platform.quarantine import safe_text

pytestmark = pytest.mark.unit


def wrapped(driver_error: psycopg.Error) -> eventsourcing.persistence.OperationalError:
    """As eventsourcing's datastore raises it: its own error, the driver's as the cause."""
    try:
        raise eventsourcing.persistence.OperationalError(str(driver_error)) from driver_error
    except eventsourcing.persistence.OperationalError as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("refused"),
        TimeoutError(),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        psycopg.errors.DeadlockDetected("deadlock"),
        wrapped(psycopg.errors.AdminShutdown("terminating connection")),
        eventsourcing.persistence.InterfaceError("connection already closed"),
        AutoReconnect("primary gone"),
        KafkaConnectionError("no broker"),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),
    ],
)
def test_a_servers_failure_is_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.DataError("invalid byte sequence for encoding UTF8: 0x00"),
        eventsourcing.persistence.DataError("unsupported Unicode escape sequence"),
        wrapped(psycopg.errors.ProgramLimitExceeded("index row size exceeds maximum")),
        psycopg.errors.ProgramLimitExceeded("index row size exceeds maximum"),
        DuplicateKeyError("dup"),
        RecordTooLargeError(),
        ValueError("bad"),
        KeyError("a bug"),
    ],
)
def test_a_records_failure_is_not(error: BaseException) -> None:
    assert not is_transient(error)


def test_an_error_is_kept_without_what_postgresql_cannot_hold_and_shortened() -> None:
    error = repr(ValueError("bad \x00 name \ud800 \x1b[31m\nsecond line"))
    kept = safe_text(error, 4000)
    assert "\x00" not in kept and "\ud800" not in kept and "\x1b" not in kept
    assert kept.startswith("ValueError('bad \\x00 name")  # repr escapes; raw text is stripped
    assert safe_text("a\x00b" + "c" * 100, 10) == "abccccccc…"
    kept.encode("utf-8")  # storable
