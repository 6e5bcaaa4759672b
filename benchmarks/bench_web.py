"""Staff desk benchmark (issue 16): server time of the queue and of a case page.

* the queue (``GET /cases``) with 10,000 open cases: p50/p95 over repeated requests, as an
  approver (requesters shown, the look audited) and filtered by type;
* a case page whose request carries a 5 MB attachment (the mail is parsed per view), and
  downloading that attachment.

Server time is measured in-process through the ASGI app (starlette's TestClient: routing,
session check, database, template, security headers), without a network in between.
Cases are inserted in bulk (this measures the desk, not ``open_case``; see bench_cases.py).

Run: ``python benchmarks/bench_web.py [--cases 10000] [--repeat 40] [--pg postgresql://...]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlers.deadlines import due_date
from storage import migrate
from storage.db import Database, normalise_url
from storage.models import Case
from tests import web_kit as kit

TYPES = ["access", "erasure", "rectification", "marketing_optout", "portability"]
STATUSES = ["received", "awaiting_identity", "awaiting_approval", "approved"]


def fill(db: Database, n: int) -> None:
    rnd = random.Random(16)
    now = datetime.now(UTC)
    with db.session() as s:
        for i in range(n):
            received = now - timedelta(days=rnd.randint(0, 40), minutes=rnd.randint(0, 1440))
            s.add(Case(id=f"DSR-2026-{i + 1:06d}", types=[rnd.choice(TYPES)],
                       status=rnd.choice(STATUSES), requester=f"person{i}@example.fi",
                       language=rnd.choice(["fi", "en", "sv"]), received_at=received,
                       due_date=due_date(received), reasons=["bench"], details={},
                       created_at=now, updated_at=now))


def timed(call: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = call()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
    return times


def show(label: str, times: list[float], extra: str = "") -> None:
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label}: p50 {statistics.median(times) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms "
          f"({len(times)} requests){extra}")


def run(label: str, url: str, n: int, repeat: int, folder: Path) -> None:
    migrate.upgrade(url)
    db = Database(url)
    t0 = time.perf_counter()
    fill(db, n)
    print(f"[{label}] inserted {n:,} open cases in {time.perf_counter() - t0:.1f} s")
    big = os.urandom(5 * 1024 * 1024)
    raw = kit.request_mail(attachments=[(b"\x89PNG\r\n\x1a\n" + big, "image", "png",
                                         "scan.png")])
    case_id = kit.make_case(db, raw, customer_id=kit.add_customer(db))
    cfg, settings = kit.write_settings(folder, db)
    kit.add_staff(cfg, "aino", "approver")
    with kit.client(settings, db) as web:
        kit.login(web, "aino")
        web.get("/cases")  # warm templates and caches
        size = len(web.get("/cases").content)
        show(f"[{label}] queue, {n + 1:,} open cases, first page of 200",
             timed(lambda: web.get("/cases"), repeat), f", {size / 1024:.0f} KiB")
        show(f"[{label}] queue filtered by type=erasure",
             timed(lambda: web.get("/cases?type=erasure"), repeat))
        show(f"[{label}] case page, request with a 5 MB attachment ({len(raw) / 1e6:.1f} MB "
             "raw)", timed(lambda: web.get(f"/cases/{case_id}"), max(10, repeat // 2)))
        show(f"[{label}] download of the 5 MB attachment",
             timed(lambda: web.get(f"/cases/{case_id}/messages/1/attachments/0"),
                   max(10, repeat // 2)))
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--pg", help="PostgreSQL server URL (a throwaway database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/bench.db", args.cases, args.repeat, Path(tmp))
    if args.pg:
        name = f"dsrbot_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(normalise_url(args.pg), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                run("postgresql", normalise_url(args.pg).rsplit("/", 1)[0] + f"/{name}",
                    args.cases, args.repeat, Path(tmp))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
