"""Outbox benchmark (issue 4, outbound): enqueue, compose, and delivery throughput.

Measures on SQLite (and PostgreSQL with ``--pg URL`` of a server; a throwaway database is
created and dropped):
* ``enqueue`` one letter per transaction (row + audit entry, as the pipeline does);
* ``compose`` + serialise a letter with an HTML part and a 100 KB PDF attachment (pure CPU);
* delivery through the sender's ``flush`` to the maildir backend and to a real SMTP sink
  (aiosmtpd on loopback, same event loop): claim, compose, deliver, mark sent, audit.

Run: ``python benchmarks/bench_outbox.py [--letters N] [--pg postgresql://...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.mail.delivery import MaildirBackend, OutboxSender, SmtpBackend
from mailformat import OutAttachment, OutgoingMail, compose, to_bytes
from storage import migrate
from storage.db import Database, normalise_url
from storage.outbox import enqueue
from tests.fixtures.smtp_sink import SmtpSink

BODY = "Hei,\n\npyyntösi on vastaanotettu ja sille on annettu tunnus.\n" * 20


def bench_compose(n: int) -> None:
    pdf = OutAttachment("raportti.pdf", "application/pdf", bytes(range(256)) * 400)
    mail = OutgoingMail(
        outbound_id=1, message_id="<dsrbot.DSR-2026-0001.abc@rusttet.fi>",
        recipient="maija@example.fi", subject="Re: Tietopyyntö", body_text=BODY,
        body_html="<p>" + BODY + "</p>", created_at=datetime.now(UTC), case_id="DSR-2026-0001",
        in_reply_to="<req@example.fi>", references=("<root@example.fi>",), attachments=(pdf,))
    t0 = time.perf_counter()
    for _ in range(n):
        to_bytes(compose(mail, from_address="info@rusttet.fi", from_name="Rusttet Oy"))
    elapsed = time.perf_counter() - t0
    print(f"compose+serialise (text+HTML+100 KB PDF): {n / elapsed:,.0f} letters/s")


def _fill(db: Database, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        with db.session() as s:
            enqueue(s, kind="receipt", recipient=f"r{i}@example.fi", subject="Kuittaus",
                    body_text=BODY, domain="rusttet.fi", in_reply_to=f"<req{i}@example.fi>")
    return time.perf_counter() - t0


async def _deliver(db: Database, backend: object) -> tuple[int, float]:
    sender = OutboxSender(db, backend, from_address="info@rusttet.fi",  # type: ignore[arg-type]
                          batch_size=50)
    t0 = time.perf_counter()
    sent = await sender.flush(timeout=3600)
    return sent, time.perf_counter() - t0


async def bench_db(label: str, url: str, n: int, tmp: Path) -> None:
    migrate.upgrade(url)
    db = Database(url)
    try:
        elapsed = _fill(db, n)
        print(f"[{label}] enqueue, one transaction each: {n / elapsed:,.0f} letters/s")
        sent, elapsed = await _deliver(db, MaildirBackend(tmp / f"maildir-{label}"))
        print(f"[{label}] deliver to maildir: {sent / elapsed:,.0f} letters/s ({sent} sent)")
        _fill(db, n)
        async with SmtpSink() as sink:
            sent, elapsed = await _deliver(db, SmtpBackend("127.0.0.1", sink.port))
        print(f"[{label}] deliver over SMTP to aiosmtpd (one connection per 50): "
              f"{sent / elapsed:,.0f} letters/s ({sent} sent, sink got {len(sink.captured)})")
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL")
    args = parser.parse_args()
    bench_compose(500)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench_db("sqlite", f"sqlite:///{tmp}/bench.db", args.letters, Path(tmp)))
        if args.pg:
            server = normalise_url(args.pg)
            name = f"dsrbot_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = f"{server.rpartition('/')[0]}/{name}"
                asyncio.run(bench_db("postgresql", url, args.letters, Path(tmp)))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
