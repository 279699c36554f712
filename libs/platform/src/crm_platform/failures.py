"""Which failures pass with time and which belong to one record: the platform's one classification.

A *transient* failure is a server's: the database, the broker or the document store is down,
restarting, unreachable or timing out. It is waited out with backoff, however long it lasts, and
never puts a record aside: the same record succeeds once the server is back. Anything else raised
while handling one record is about that record (bad data, a bug meeting unexpected data): the
consumers dead-letter it, the loops and projections quarantine it (``crm_platform.quarantine``),
and go on with the next.
"""

from __future__ import annotations

import eventsourcing.persistence
import psycopg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure

# Failures of a server rather than of a record.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    PyMongoConnectionFailure,
    psycopg.OperationalError,
    # eventsourcing's recorders translate driver errors into their own.
    eventsourcing.persistence.OperationalError,
    eventsourcing.persistence.InterfaceError,
    KafkaConnectionError,
    KafkaTimeoutError,
)
# PostgreSQL reports these under OperationalError, yet they are about the data written: a value
# too large for an index (54000 program_limit_exceeded and its subclasses) never fits later.
_RECORD_SQLSTATE_CLASSES = ("54",)


def is_transient(error: BaseException) -> bool:
    """True when ``error`` is a server's failure that waiting cures; False when it is about
    the record being handled (and would fail again the same way)."""
    if isinstance(error, KafkaError) and error.retriable:
        return True
    if not isinstance(error, TRANSIENT_ERRORS):
        return False
    driver_error = error if isinstance(error, psycopg.Error) else error.__cause__
    if isinstance(driver_error, psycopg.Error):
        return not (driver_error.sqlstate or "").startswith(_RECORD_SQLSTATE_CLASSES)
    return True
