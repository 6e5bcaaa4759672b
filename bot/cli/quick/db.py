"""The quick path's database: the SQLite file through the standard library's ``sqlite3``.

Values come back as the ORM gives them (:func:`stamp_of` / :func:`moment` mirror
SQLAlchemy's SQLite storage of ``UTCDateTime``, ``Date``, ``Boolean`` and ``JSON``), so views
shared with the full path print the same bytes; tests/test_cli_quick_path.py runs both paths
on the same databases and compares their output, and checks every column named here exists
with the type assumed. The connection is set up as :func:`storage.db.make_engine` sets up
its own (busy timeout, foreign keys, secure delete) and opened without creating the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.cli.quick.declined import Declined

#: How SQLAlchemy's SQLite dialect stores a DateTime (UTC for UTCDateTime columns).
STORED_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def stamp_of(moment: datetime) -> str:
    """A datetime as stored (and as compared, in SQL) by the ORM."""
    return moment.astimezone(UTC).strftime(STORED_FORMAT)


def moment(stored: str | None) -> datetime | None:
    """A stored UTCDateTime as the ORM returns it: aware, in UTC."""
    return None if stored is None else datetime.fromisoformat(stored).replace(tzinfo=UTC)


def day(stored: str | None) -> date | None:
    return None if stored is None else date.fromisoformat(stored)


def decoded(stored: str | None) -> Any:
    return None if stored is None else json.loads(stored)


#: Column kinds for :func:`row_object` (anything not named is returned as stored).
MOMENTS = frozenset({"received_at", "authority_at", "closed_at", "created_at", "updated_at",
                     "at", "email_undeliverable_at", "arrived_at", "opened_at"})
DAYS = frozenset({"due_date", "extended_due_date", "claimed_earlier"})
FLAGS = frozenset({"extended", "answer_to_representative"})
DOCUMENTS = frozenset({"types", "reasons", "details"})


def row_object(row: sqlite3.Row) -> SimpleNamespace:
    """A row as an object with the ORM's attribute names and value types."""
    values: dict[str, Any] = {}
    for name in row.keys():  # noqa: SIM118 (iterating a sqlite3.Row gives values)
        raw = row[name]
        if name in MOMENTS:
            values[name] = moment(raw)
        elif name in DAYS:
            values[name] = day(raw)
        elif name in FLAGS:
            values[name] = bool(raw)
        elif name in DOCUMENTS:
            values[name] = decoded(raw)
        else:
            values[name] = raw
    return SimpleNamespace(**values)


@contextmanager
def connect(path: str) -> Iterator[sqlite3.Connection]:
    """An existing dsrbot database (else :class:`Declined`: the full path says what is wrong)."""
    if not Path(path).is_file():
        raise Declined("no database file")
    try:
        conn = sqlite3.connect(f"{Path(path).as_uri()}?mode=rw", uri=True, timeout=30,
                               isolation_level=None)
    except sqlite3.Error as exc:
        raise Declined(f"cannot open the database ({exc.__class__.__name__})") from None
    try:
        conn.row_factory = sqlite3.Row
        for pragma in ("busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL",
                       "secure_delete=ON"):
            conn.execute(f"PRAGMA {pragma}")
        has_schema = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                  "name = 'alembic_version'").fetchone()
        if not has_schema:
            raise Declined("no dsrbot schema")
        yield conn
    except sqlite3.Error as exc:
        raise Declined(f"database error ({exc.__class__.__name__})") from None
    finally:
        conn.close()


@contextmanager
def reading(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction: every query sees the same database."""
    conn.execute("BEGIN DEFERRED")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
