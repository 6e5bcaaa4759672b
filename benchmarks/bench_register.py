"""Register benchmark (issue 2): 1,000,000 customers in SQLite.

Measures: demo-data build time, median/p99 lookup by email, importing 100,000 customers from
CSV through the real CLI path (parse + validate + one transaction), and exporting the
publication list. Run: ``python benchmarks/bench_register.py [--customers N] [--import-rows N]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlmodel import col, select

from handlers.csv_import import CUSTOMER_COLUMNS, parse_customers
from handlers.register_export import write_label_list
from storage import demo_data, migrate
from storage import register as reg
from storage.db import Database
from storage.models import Customer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--import-rows", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        db = Database(url)
        t0 = time.perf_counter()
        with db.session() as s:
            reg.ensure_default_parties(s)
            demo_data.generate(s, args.customers, seed=42)
        build = time.perf_counter() - t0
        print(f"demo-data {args.customers:,} customers: {build:.1f} s")

        rnd = random.Random(1)
        with db.read_session() as s:
            emails = [f"nobody{i}@example.fi" for i in range(args.lookups)]
            ids = [rnd.randint(1, args.customers) for _ in range(args.lookups // 2)]
            sample = [c.email for c in s.exec(select(Customer).where(col(Customer.id).in_(ids)))]
            times = []
            for email in sample + emails[: len(sample)]:
                t = time.perf_counter()
                reg.customers_by_email(s, email.upper())
                times.append(time.perf_counter() - t)
        times.sort()
        print(f"lookup by email ({len(times):,} lookups, half hits): "
              f"median {statistics.median(times) * 1e3:.3f} ms, "
              f"p99 {times[int(len(times) * 0.99)] * 1e3:.3f} ms")

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CUSTOMER_COLUMNS)
        w.writeheader()
        for i in range(args.import_rows):
            w.writerow({
                "customer_number": f"9{i:07d}", "first_name": "Testi", "last_name": "Asiakas",
                "organisation": "", "position": "", "email": f"testi.asiakas{i}@example.fi",
                "postal_address": "Hämeenkatu 12, 33100 Tampere", "phone": "040 123 4567",
                "www": "", "ip_address": "", "relationship_start": "2020-01-01",
                "relationship_end": "", "is_org_contact": "0", "marketing_ban": "0",
                "publication_ban": "0"})
        text = buf.getvalue()
        t0 = time.perf_counter()
        rows = parse_customers(io.StringIO(text))
        parsed = time.perf_counter() - t0
        with db.session() as s:
            reg.import_customers(s, rows, source="customer", actor="operator:bench")
        total = time.perf_counter() - t0
        print(f"import {args.import_rows:,} customers from CSV: {total:.1f} s "
              f"(parse+validate {parsed:.1f} s) into a register of {args.customers:,}")

        t0 = time.perf_counter()
        out = io.StringIO()
        with db.read_session() as s:
            n = write_label_list(reg.iter_mailing_list(s, "publication"), out)
        print(f"export publication list: {n:,} labels in {time.perf_counter() - t0:.1f} s")
        db.dispose()


if __name__ == "__main__":
    main()
