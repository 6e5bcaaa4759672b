"""The facts ``status`` and ``cases`` show, read with plain SQL (the ORM's: bot.health.report,
storage.health, storage.cases.list_cases). The same queries, the same order, the same values;
tests/test_cli_quick_path.py compares the two paths' output on the same databases.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from typing import Any

from bot.cli.quick.db import day, moment, row_object, stamp_of
from bot.health import verdict
from storage.case_status import CLOSED
from storage.states import CaseStatus, InboundState, OutboundState

#: A forward purged before it went out (storage.mail_copies.NOT_SENT): stopped on purpose.
NOT_SENT = "purged before delivery (retention or erasure)"
_CLOSED = tuple(sorted(s.value for s in CLOSED))


def _count_by(conn: sqlite3.Connection, table: str) -> dict[str, int]:
    rows = conn.execute(f"SELECT state, count(*) FROM {table} GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def queues(conn: sqlite3.Connection) -> dict[str, int]:
    return verdict.queues_of(_count_by(conn, "inboundmessage"),
                             _count_by(conn, "outboundmessage"),
                             _count_by(conn, "chatnotification"))


def oldest(conn: sqlite3.Connection, now: datetime) -> dict[str, Any] | None:
    row = conn.execute("SELECT id, received_at FROM inboundmessage WHERE state = ? "
                       "ORDER BY received_at, id LIMIT 1", (InboundState.RECEIVED.value,)
                       ).fetchone()
    found = moment(row[1]) if row is not None else None
    return verdict.oldest_of((int(row[0]), found) if row is not None and found else None, now)


def open_cases(conn: sqlite3.Connection) -> list[tuple[str, str, date]]:
    marks = ", ".join("?" * len(_CLOSED))
    rows = conn.execute(f'SELECT id, status, due_date, extended_due_date FROM "case" '
                        f"WHERE status NOT IN ({marks})", _CLOSED).fetchall()
    out = []
    for cid, status, due, extended in rows:
        effective = day(extended) or day(due)
        assert effective is not None  # due_date is NOT NULL
        out.append((cid, status, effective))
    return out


def _last_arrival(conn: sqlite3.Connection) -> tuple[float | None, datetime | None] | None:
    row = conn.execute("SELECT round_trip_seconds, arrived_at FROM canaryprobe WHERE "
                       "arrived_at IS NOT NULL ORDER BY arrived_at DESC LIMIT 1").fetchone()
    return (row[0], moment(row[1])) if row is not None else None


def incidents(conn: sqlite3.Connection) -> list[verdict.Incident]:
    rows = conn.execute("SELECT kind, opened_at, detail FROM healthincident "
                        "WHERE open_key IS NOT NULL ORDER BY id").fetchall()
    return [verdict.Incident(kind, opened, detail) for kind, stored, detail in rows
            if (opened := moment(stored)) is not None]


def canary(conn: sqlite3.Connection, settings: dict[str, Any]) -> dict[str, Any]:
    return verdict.canary_of(enabled=settings["enabled"],
                             interval_minutes=settings["interval_minutes"],
                             last=_last_arrival(conn), incidents=incidents(conn))


def _canary_late(conn: sqlite3.Connection, now: datetime, alert: timedelta) -> bool:
    sql = ("SELECT id FROM canaryprobe WHERE arrived_at IS NULL AND created_at <= ?")
    params: list[Any] = [stamp_of(now - alert)]
    last = _last_arrival(conn)
    if last is not None and last[1] is not None:
        sql += " AND created_at > ?"
        params.append(stamp_of(last[1]))
    return conn.execute(sql + " ORDER BY created_at LIMIT 1", params).fetchone() is not None


def health_facts(conn: sqlite3.Connection, settings: dict[str, Any], now: datetime
                 ) -> verdict.HealthFacts:
    kinds = {i.kind for i in incidents(conn)}
    late = False
    if settings["enabled"]:
        late = (_canary_late(conn, now, timedelta(minutes=settings["alert_minutes"]))
                or "canary" in kinds)
    failing = conn.execute(
        "SELECT count(*) FROM outboundmessage WHERE (state = ? AND next_attempt_at >= ? "
        "AND last_error IS NOT ?) OR (state = ? AND last_error IS NOT NULL)",
        (OutboundState.FAILED.value, stamp_of(now - verdict.FAILED_WINDOW), NOT_SENT,
         OutboundState.PENDING.value)).fetchone()[0]
    unhandled = conn.execute('SELECT count(*) FROM "case" WHERE status = ?',
                             (CaseStatus.DELIVERY_FAILED.value,)).fetchone()[0]
    return verdict.HealthFacts(canary_late=late, silence="silence" in kinds,
                               failing_letters=int(failing), delivery_failed_cases=int(unhandled),
                               oldest=oldest(conn, now))


#: The case columns ``cases`` shows.
LISTED = ("id", "types", "status", "received_at", "due_date", "extended_due_date", "requester",
          "language", "claimed_earlier", "on_behalf_of")


def list_cases(conn: sqlite3.Connection) -> list[tuple[Any, str | None]]:
    """Every case with its customer number (None when not matched), oldest first."""
    columns = ", ".join(f'"case".{c}' for c in LISTED)
    rows = conn.execute(f'SELECT {columns}, customer.customer_number AS customer_number '
                        f'FROM "case" LEFT OUTER JOIN customer ON "case".customer_id = '
                        f'customer.id ORDER BY "case".received_at, "case".id').fetchall()
    return [(row_object(row), row["customer_number"]) for row in rows]
