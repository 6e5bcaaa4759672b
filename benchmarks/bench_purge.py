"""Purge benchmark (issue 17): how fast the daily purge empties 100,000 stored mails.

Fills a fresh database with ``--mails`` stored mails that asked for no right (about 3 KB
each, half ignored, half left for customer service), all past ``retention.other_mail_days``,
then runs the purge exactly as ``dsrbot purge`` does (:class:`bot.purge_job.PurgeJob`: batches
of 1,000 in their own transactions, one audit entry, then SQLite's WAL checkpoint or
PostgreSQL's VACUUM) and reports the rate, the time spent reclaiming the space and, on SQLite,
the file size before and after. A second run shows the idle cost (nothing due).

Run: ``python benchmarks/bench_purge.py [--mails N] [--pg postgresql://...]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.purge_job import PurgeJob
from handlers.policy import RecordRetention
from storage import migrate
from storage.db import Database, normalise_url
from storage.inbox import NewMessage, mark_many, store_many
from storage.models import InboundState

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BODY = ("Hei, voisitteko kertoa, milloin tilaukseni saapuu? Soittakaa numeroon 040 123 4567. "
        * 30)


def _mail(i: int) -> bytes:
    return (f"From: asiakas{i}@example.fi\r\nTo: info@rusttet.fi\r\nSubject: Tilaus {i}\r\n"
            f"Message-ID: <bench-{i}@example.fi>\r\nDate: Mon, 5 Oct 2026 10:00:00 +0300\r\n\r\n"
            f"{BODY}\r\n").encode()


def fill(db: Database, n: int) -> float:
    t0 = time.perf_counter()
    when = NOW - timedelta(days=60)
    for start in range(0, n, 2000):
        batch = [NewMessage(_mail(i), "smtp", when, f"asiakas{i}@example.fi",
                            ("info@rusttet.fi",)) for i in range(start, min(n, start + 2000))]
        with db.session() as s:
            stored = store_many(s, batch)
            mark_many(s, [(row_id, InboundState.IGNORED if row_id % 2
                           else InboundState.PROCESSED, ["bench"])
                          for row_id, _new in stored])
    return time.perf_counter() - t0


def run(url: str, n: int, label: str) -> None:
    migrate.upgrade(url)
    db = Database(url)
    try:
        fill_s = fill(db, n)
        path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None
        before = _size(path)
        job = PurgeJob(db, RecordRetention())
        t0 = time.perf_counter()
        report = job.run(NOW)
        total = time.perf_counter() - t0
        assert report.counts["other_mail"] == n, report.counts
        t1 = time.perf_counter()
        job.run(NOW)
        idle = time.perf_counter() - t1
        print(f"{label}: filled {n:,} mails in {fill_s:.1f} s; purge {total:.1f} s = "
              f"{n / total:,.0f} mails/s (including reclaim); idle purge {idle * 1000:.0f} ms"
              + (f"; file {before / 2**20:.0f} MiB before, {_size(path) / 2**20:.0f} MiB "
                 "after (freed pages zeroed, not returned: see README)" if path else
                 f"; vacuumed {', '.join(report.vacuumed)}"))
    finally:
        db.dispose()


def _size(path: Path | None) -> int:
    if path is None:
        return 0
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=100_000)
    parser.add_argument("--pg", help="PostgreSQL server URL (a throwaway database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.mails, "SQLite")
    if args.pg:
        server = normalise_url(args.pg)
        name = f"dsrbot_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(f"{server.rpartition('/')[0]}/{name}", args.mails, "PostgreSQL")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
