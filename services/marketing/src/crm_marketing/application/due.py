"""The due table of automated sends: PostgreSQL, polled with ``FOR UPDATE SKIP LOCKED``.

Sends are scheduled in the event store (``AutomatedSend.Scheduled``, written with the reaction
to their triggering event). The table is an index of them by due time, filled by following the
notification log: the rows and the log position advance in one transaction, so a restart goes on
where it stopped and skips nothing. Due rows are claimed with ``SKIP LOCKED``, so schedulers
running side by side never wait for or take each other's rows; firing is the aggregate's own
state change, so a row claimed again after a crash finds its send fired and is only closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.utils import get_topic
from psycopg_pool import ConnectionPool

from ..domain import AutomatedSend

SCHEDULED_TOPIC = get_topic(AutomatedSend.Scheduled)  # type: ignore[attr-defined]
TABLE = "marketing_due_sends"
POSITION = "marketing_due_position"
PAGE = 500


class PostgresDueSends:
    def __init__(self, dsn: str) -> None:
        self._pool = ConnectionPool(dsn, min_size=1, max_size=2, open=True)
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (send_id uuid PRIMARY KEY,"
                " due_at timestamptz NOT NULL, done_at timestamptz)"
            )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {TABLE}_pending ON {TABLE} (due_at)"
                " WHERE done_at IS NULL"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {POSITION} (id boolean PRIMARY KEY DEFAULT true"
                " CHECK (id), notification_id bigint NOT NULL)"
            )

    def index(self, application: Any) -> int:
        """Add the sends scheduled since the last call; how many."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(f"SELECT notification_id FROM {POSITION} FOR UPDATE").fetchone()
            after = row[0] if row else 0
            page = application.recorder.select_notifications(
                start=after, limit=PAGE, topics=[SCHEDULED_TOPIC], inclusive_of_start=False
            )
            if not page:
                return 0
            rows = [(n.originator_id, application.mapper.to_domain_event(n).due_at) for n in page]
            with conn.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {TABLE} (send_id, due_at) VALUES (%s, %s)"
                    " ON CONFLICT (send_id) DO NOTHING",
                    rows,
                )
            conn.execute(
                f"INSERT INTO {POSITION} (notification_id) VALUES (%s) ON CONFLICT (id)"
                " DO UPDATE SET notification_id = EXCLUDED.notification_id",
                (page[-1].id,),
            )
        return len(page)

    def fire_due(self, application: Any, now: datetime, limit: int = 100) -> int:
        """Fire the sends due by ``now`` that no other scheduler holds; how many were fired."""
        fired = 0
        with self._pool.connection() as conn, conn.transaction():
            due = conn.execute(
                f"SELECT send_id FROM {TABLE} WHERE done_at IS NULL AND due_at <= %s"
                " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, limit),
            ).fetchall()
            for (identifier,) in due:
                fired += application.fire_send(identifier, now)
                conn.execute(
                    f"UPDATE {TABLE} SET done_at = %s WHERE send_id = %s", (now, identifier)
                )
        return fired

    def close(self) -> None:
        self._pool.close()
