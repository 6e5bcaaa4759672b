"""Case-engine benchmark (issue 5): deadlines, opening cases, joining follow-ups, due queries.

Measures on SQLite (and PostgreSQL with ``--pg URL``):
* ``due_date`` throughput over 50 years of receipt dates (holiday calendar cached per year);
* opening N cases through ``handlers.cases.open_case`` (one transaction per case, like the
  pipeline: id allocation, due date, thread id, audit entries);
* joining a follow-up by In-Reply-To (indexed thread table) and by a subject case id, median
  and p99 over many lookups among N cases;
* ``due_within`` / ``overdue`` over N open cases.

Run: ``python benchmarks/bench_cases.py [--cases N] [--pg postgresql://...]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from handlers import cases as engine
from handlers.deadlines import due_date
from storage import migrate
from storage.db import Database, normalise_url


def _percentiles(times: list[float]) -> str:
    times.sort()
    return (f"median {statistics.median(times) * 1e3:.3f} ms, "
            f"p99 {times[int(len(times) * 0.99)] * 1e3:.3f} ms")


def bench_deadlines() -> None:
    start = date(2000, 1, 1)
    days = [start + timedelta(days=i) for i in range(365 * 50)]
    due_date(start)  # fill the cache for the first year
    t0 = time.perf_counter()
    for d in days:
        due_date(d)
        due_date(d, extended=True)
    elapsed = time.perf_counter() - t0
    print(f"due_date: {2 * len(days):,} computations in {elapsed:.2f} s "
          f"({2 * len(days) / elapsed:,.0f}/s, cold caches for 50 years included)")


def bench_db(label: str, url: str, n: int, lookups: int) -> None:
    migrate.upgrade(url)
    db = Database(url)
    rnd = random.Random(5)
    base = datetime(2026, 1, 1, 8, tzinfo=UTC)
    t0 = time.perf_counter()
    ids: list[tuple[str, str, str]] = []
    for i in range(n):
        with db.session() as s:
            requester = f"user{i}@example.fi"
            msgid = f"<req-{i}@mail.example.fi>"
            case = engine.open_case(
                s, types=["access"], requester=requester, language="fi",
                received_at=base + timedelta(minutes=7 * i), thread_ids=[msgid])
            ids.append((case.id, requester, msgid))
    opened = time.perf_counter() - t0
    print(f"[{label}] open_case x {n:,}: {opened:.1f} s ({n / opened:,.0f} cases/s, "
          "one transaction each)")

    def timed(fn: Callable[[], object]) -> list[float]:
        out = []
        for _ in range(lookups):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return out

    with db.read_session() as s:
        def by_thread() -> None:
            _, _, msgid = rnd.choice(ids)
            assert engine.find_case_for_followup(
                s, in_reply_to=msgid, references=["<x@y>", msgid], subject="Re: pyyntö",
                sender="someone@example.fi", sender_verified=False) is not None

        def by_subject() -> None:
            cid, requester, _ = rnd.choice(ids)
            assert engine.find_case_for_followup(
                s, in_reply_to="", references=[], subject=f"Re: [{cid}]",
                sender=requester, sender_verified=True) is not None

        print(f"[{label}] follow-up by In-Reply-To among {n:,} cases: "
              f"{_percentiles(timed(by_thread))}")
        print(f"[{label}] follow-up by subject case id among {n:,} cases: "
              f"{_percentiles(timed(by_subject))}")
        t = time.perf_counter()
        soon = engine.due_within(s, 14, date(2026, 2, 1))
        late = engine.overdue(s, date(2026, 6, 1))
        print(f"[{label}] due_within + overdue over {n:,} open cases: "
              f"{(time.perf_counter() - t) * 1e3:.0f} ms ({len(soon)} + {len(late)} rows)")
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--lookups", type=int, default=2_000)
    ap.add_argument("--pg", help="PostgreSQL server URL; a throwaway database is made there")
    args = ap.parse_args()
    bench_deadlines()
    with tempfile.TemporaryDirectory() as tmp:
        bench_db("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.cases, args.lookups)
    if args.pg:
        server = normalise_url(args.pg)
        name = f"dsrbot_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            bench_db("postgresql", f"{server.rpartition('/')[0]}/{name}", args.cases,
                     args.lookups)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


if __name__ == "__main__":
    main()
