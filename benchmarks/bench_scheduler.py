"""Scheduler benchmark (issue 8): one tick over many open cases and a large register.

Measures, as of one moment:
* the catch-up tick (every case owes a reminder, escalation or warning; customers past
  retention are anonymised): actions per second, each in its own claimed transaction;
* the idle tick right after (everything already done): the cost of asking the database what is
  due, which the service pays every ``scheduler.tick_seconds``.

Run: ``python benchmarks/bench_scheduler.py [--cases N] [--customers N] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.scheduler import PeriodicJobs
from bot.settings import Settings
from handlers import deadlines
from storage import migrate
from storage.db import Database
from storage.models import Case, CaseStatus, Customer

NOW = datetime(2026, 12, 22, 7, tzinfo=UTC)  # 09:00 in Helsinki


def populate(db: Database, cases: int, customers: int) -> None:
    rng = random.Random(8)
    stamp = datetime.now(UTC)
    statuses = [CaseStatus.RECEIVED, CaseStatus.AWAITING_IDENTITY, CaseStatus.AWAITING_APPROVAL,
                CaseStatus.APPROVED]
    with db.session() as s:
        for i in range(cases):
            received = NOW - timedelta(days=rng.randint(0, 45), hours=rng.randint(0, 23))
            s.add(Case(id=f"DSR-2026-{i + 1:06d}", types=rng.sample(["access", "erasure",
                                                                      "portability"], 2),
                       status=rng.choice(statuses).value, requester=f"r{i}@example.fi",
                       received_at=received, due_date=deadlines.due_date(received),
                       created_at=stamp, updated_at=stamp))
        for i in range(customers):
            end = date(2012, 1, 1) + timedelta(days=rng.randint(0, 4000)) if i % 3 else None
            s.add(Customer(customer_number=f"{100000 + i}", first_name="Maija",
                           last_name="Meikäläinen", email=f"c{i}@example.fi",
                           email_normalised=f"c{i}@example.fi", relationship_end=end,
                           created_at=stamp, updated_at=stamp))


def run(url: str, cases: int, customers: int) -> None:
    migrate.upgrade(url)
    db = Database(url)
    t0 = time.perf_counter()
    populate(db, cases, customers)
    print(f"populate: {cases} cases, {customers} customers in {time.perf_counter() - t0:.1f} s")
    settings = Settings()
    settings.database.url = url
    jobs = PeriodicJobs(settings, db)
    t0 = time.perf_counter()
    first = jobs.run_all(NOW)
    busy = time.perf_counter() - t0
    actions = sum(first.counts.values()) - first.counts.get("retention_held", 0)
    print(f"catch-up tick: {busy:.2f} s, {actions} actions ({actions / busy:.0f}/s): "
          f"{first.summary()}")
    t0 = time.perf_counter()
    second = jobs.run_all(NOW + timedelta(minutes=5))
    idle = time.perf_counter() - t0
    print(f"idle tick (nothing new): {idle * 1000:.0f} ms: {second.summary()}")
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--customers", type=int, default=20000)
    ap.add_argument("--postgres", help="a PostgreSQL URL of an EMPTY database to use instead")
    args = ap.parse_args()
    if args.postgres:
        run(args.postgres, args.cases, args.customers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.cases, args.customers)


if __name__ == "__main__":
    main()
