"""Rights and letters benchmark (issue 6).

Measures, on SQLite with a demo register (default 100,000 customers):
* letter rendering: receipts (text + HTML, three languages) per second;
* an access report carried out end to end (report, letter, PDF, outbox row, audit entry) for
  an ordinary customer and for one with 500 orders and 500 invoices, median of N runs;
* an erasure carried out end to end, median of N runs.

Run: ``python benchmarks/bench_rights.py [--customers N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from bot.clock import SystemClock
from handlers.letters import LANGUAGES, render_letter
from handlers.rights import OrgInfo, make_handlers
from storage import demo_data, migrate
from storage.cases import create_case
from storage.db import Database
from storage.models import Case, Customer, Invoice, Order

ORG = OrgInfo()
HANDLERS = make_handlers(ORG, SystemClock())


def _verified_case(session: Session, customer: Customer, right: str) -> str:
    case = create_case(session, types=[right], requester=customer.email, language="fi",
                       received_at=datetime.now(UTC), due_date=date.today() + timedelta(30),
                       customer_id=customer.id)
    case.verification_level = "verified"
    case.signature_state = "valid"
    session.add(case)
    session.flush()
    return case.id


def _carry_out(db: Database, right: str, customer_id: int) -> float:
    with db.session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        case_id = _verified_case(s, customer, right)
    start = time.perf_counter()
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        handler = HANDLERS[right]
        handler.carry_out(s, case, customer, handler.propose(s, case, customer, {}), "dsrbot")
    return time.perf_counter() - start


def _big_customer(db: Database, customer_id: int, n: int) -> None:
    with db.session() as s:
        for i in range(n):
            order = Order(order_number=f"B-{customer_id}-{i}", customer_id=customer_id,
                          ordered_at=date(2024, 1, 1) + timedelta(days=i % 700),
                          description="Ruuvisarja", amount_cents=1990 + i)
            s.add(order)
            s.flush()
            s.add(Invoice(invoice_number=f"BI-{customer_id}-{i}", customer_id=customer_id,
                          order_id=order.id, issued_at=order.ordered_at,
                          due_date=order.ordered_at + timedelta(days=14),
                          amount_cents=order.amount_cents, status="paid"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--letters", type=int, default=600)
    args = ap.parse_args()

    now = datetime.now(UTC)
    context = {"org": ORG.letter_context(), "case_id": "DSR-2026-0001", "received_at": now,
               "due_date": date.today(), "types": ["access", "erasure"]}
    start = time.perf_counter()
    for i in range(args.letters):
        render_letter("receipt", LANGUAGES[i % 3], context)
    rate = args.letters / (time.perf_counter() - start)
    print(f"letters: {rate:.0f} receipts/s (text + HTML)")

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        db = Database(url)
        with db.session() as s:
            demo_data.generate(s, args.customers, seed=6)
        with db.read_session() as s:
            ids = [i for i in s.exec(select(Customer.id).where(
                Customer.is_org_contact == False)  # noqa: E712
                .order_by(col(Customer.id)).limit(3 * args.runs + 1)).all() if i is not None]
        big = ids.pop()
        _big_customer(db, big, 500)
        access = [_carry_out(db, "access", ids[i]) for i in range(args.runs)]
        access_big = [_carry_out(db, "access", big) for _ in range(max(3, args.runs // 4))]
        erasure = [_carry_out(db, "erasure", ids[args.runs + i]) for i in range(args.runs)]
        db.dispose()
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"access report (ordinary customer, {args.customers} in register): "
          f"median {ms(access):.1f} ms")
    print(f"access report (500 orders + 500 invoices, with PDF): median {ms(access_big):.1f} ms")
    print(f"erasure: median {ms(erasure):.1f} ms")


if __name__ == "__main__":
    main()
