"""Deleted means gone from the file (issue 17, rule 4): SQLite overwrites what a purge deletes
and empties its write-ahead log; PostgreSQL VACUUMs the tables a purge emptied."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.purge_job import PurgeJob
from handlers.policy import RecordRetention
from storage.db import Database
from tests.retention_kit import NOW, days_ago, inbound, mail_bytes, store_mail

#: A string that occurs nowhere else in the database: only in the purged mail.
MARKER = "QUOKKA-ZEBRA-7781-distinctive"


def _file_bytes(db: Database) -> bytes:
    path = Path(db.url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _store_marked_mails(db: Database) -> list[int]:
    """A small mail (fits in its page) and a large one (spills onto overflow pages)."""
    with db.session() as s:
        return [store_mail(s, mail_bytes("liisa@example.fi", f"Hello. {MARKER} call me"),
                           received_at=days_ago(40), state="processed"),
                store_mail(s, mail_bytes("liisa@example.fi", f"{MARKER} " * 3000,
                                         subject="long one"),
                           received_at=days_ago(40), state="ignored")]


def test_purged_bytes_are_not_in_the_database_file(sqlite_db: Database) -> None:
    ids = _store_marked_mails(sqlite_db)
    # Checkpointed once, so the mail sits in the main file as well as (maybe) in the WAL.
    raw = sqlite_db.engine.raw_connection()
    raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
    raw.close()
    assert MARKER.encode() in _file_bytes(sqlite_db)  # the test can see it while it is there
    report = PurgeJob(sqlite_db, RecordRetention()).run(NOW)
    assert report.counts["other_mail"] == 2 and not report.checkpoint_busy
    assert all(inbound(sqlite_db, i).raw == b"" for i in ids)
    data = _file_bytes(sqlite_db)
    assert MARKER.encode() not in data
    assert b"liisa@example.fi" not in data


def test_every_sqlite_connection_runs_with_secure_delete(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


@pytest.mark.postgres
def test_purge_vacuums_the_tables_it_emptied_on_postgresql(pg_database: str) -> None:
    from storage import migrate

    migrate.upgrade(pg_database)
    db = Database(pg_database)
    try:
        _store_marked_mails(db)
        report = PurgeJob(db, RecordRetention()).run(NOW)
        assert "inboundmessage" in report.vacuumed
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            vacuumed = conn.execute(text(
                "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'inboundmessage'"
            )).scalar()
            left = conn.execute(text(
                "SELECT count(*) FROM inboundmessage WHERE position(:m in raw) > 0"),
                {"m": MARKER.encode()}).scalar()
        assert vacuumed is not None
        assert left == 0
    finally:
        db.dispose()
