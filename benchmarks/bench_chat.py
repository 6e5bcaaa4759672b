"""Staff chat benchmark (issue 7): the real python-telegram-bot against the fake Bot API.

Measures, on SQLite:
* rendering one case message (text + keyboard), masked;
* the notifier draining a backlog of new cases (sweep + claim + render + sendMessage over
  loopback HTTP + mark sent), in messages per second;
* an idle notifier tick (sweep finds nothing) with every case already shown;
* tap to edit: an Approve tap polled by PTB until the case message is edited, p50/p95.

Run: ``python benchmarks/bench_chat.py [--cases N] [--taps N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.chat.render import render_case
from bot.chat.telegram_app import TelegramChat
from bot.chat.views import load_case_view
from bot.settings import Settings
from storage import cases as store
from storage import migrate
from storage.db import Database
from storage.models import CaseStatus, Customer
from tests.fixtures.fake_telegram import STAFF_CHAT_ID, FakeTelegram

APPROVER = 111111


def make_cases(db: Database, n: int) -> list[str]:
    now = datetime.now(UTC)
    ids = []
    with db.session() as s:
        for i in range(n):
            customer = Customer(customer_number=f"B{i:07d}", first_name="Maija",
                                last_name="Meikäläinen", email=f"m{i}@example.fi",
                                email_normalised=f"m{i}@example.fi",
                                created_at=now, updated_at=now)
            s.add(customer)
            s.flush()
            case = store.create_case(s, types=["access"], requester=f"m{i}@example.fi",
                                     language="fi", received_at=now, due_date=date.today(),
                                     customer_id=customer.id,
                                     reasons=["needs staff approval: access"])
            case.verification_level = "verified"
            case.signature_state = "valid"
            case.details = {"classification": {"labels": ["access"],
                                               "scores": {"access": 0.93}}}
            store.transition(s, case, CaseStatus.AWAITING_APPROVAL, actor="dsrbot", reasons=[])
            ids.append(case.id)
    return ids


def settings_for(db: Database, fake: FakeTelegram) -> Settings:
    return Settings(database={"url": db.url}, chat={
        "backend": "telegram", "token": fake.token, "telegram_chat_id": STAFF_CHAT_ID,
        "telegram_base_url": fake.base_url,
        "staff": [{"name": "anna", "telegram_user_id": APPROVER, "role": "approver"}]})


async def run(cases: int, taps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        db = Database(url)
        ids = make_cases(db, cases)

        with db.read_session() as s:
            view = load_case_view(s, ids[0])
        assert view is not None
        samples = []
        for _ in range(2000):
            t0 = time.perf_counter()
            render_case(view, personal_data="masked", tz="Europe/Helsinki", today=date.today())
            samples.append(time.perf_counter() - t0)
        print(f"render one case message: median {statistics.median(samples) * 1e6:.0f} µs")

        fake = FakeTelegram()
        await fake.start()
        chat = TelegramChat(settings_for(db, fake), db)
        await chat.application.initialize()
        chat.notifier.batch = 100
        t0 = time.perf_counter()
        while len(fake.calls_to("sendMessage")) < cases:
            await chat.notifier.deliver_once()
        drained = time.perf_counter() - t0
        print(f"notifier backlog: {cases} new cases posted in {drained:.1f} s "
              f"({cases / drained:.0f} messages/s)")

        idle = []
        for _ in range(20):
            t0 = time.perf_counter()
            await chat.notifier.deliver_once()
            idle.append(time.perf_counter() - t0)
        print(f"idle notifier tick, {cases} cases shown: median "
              f"{statistics.median(idle) * 1000:.1f} ms")
        await chat.application.shutdown()

        running = TelegramChat(settings_for(db, fake), db, poll_interval=2.0)
        await running.start()
        await fake.wait_for("getUpdates")
        latencies = []
        for case_id in ids[:taps]:
            message_id = next(mid for (cid, mid), m in fake.messages.items()
                              if cid == STAFF_CHAT_ID and case_id in m.text.split("\n")[0])
            edits = len(fake.calls_to("editMessageText"))
            t0 = time.perf_counter()
            fake.push_callback(APPROVER, STAFF_CHAT_ID, message_id, f"approve:{case_id}")
            await fake.wait_for("editMessageText", edits + 1)
            latencies.append(time.perf_counter() - t0)
        await running.stop()
        await fake.stop()
        db.dispose()
        latencies.sort()
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
        print(f"approve tap -> message edited ({taps} taps): p50 "
              f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--taps", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(run(args.cases, args.taps))


if __name__ == "__main__":
    main()
