"""IMAP benchmark (issue 4): time from APPEND to the committed inbox row, watcher in IDLE.

A real Dovecot (the test fixture's server class) on loopback, the real watcher thread, SQLite.
Each message is appended by a second IMAP connection (the "mail server delivering"); the clock
stops when the watcher's ``on_stored`` callback runs, which happens after the commit.
Target: p95 <= 2 s.

Run: ``python benchmarks/bench_imap_idle.py [--messages N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.mail.imap_watcher import ImapWatcher
from bot.settings import Settings
from storage import migrate
from storage.db import Database
from tests.fixtures.dovecot import DovecotServer, find_dovecot


def _mail(n: int) -> bytes:
    return (f"From: Asiakas <asiakas{n}@example.fi>\r\nTo: info@rusttet.fi\r\n"
            f"Subject: Pyyntö {n}\r\nMessage-ID: <idle-{n}@example.fi>\r\n\r\n"
            f"Haluan tarkastaa tietoni.\r\n").encode()


async def run(count: int) -> list[float]:
    binary = find_dovecot()
    if binary is None:
        raise SystemExit("dovecot is not installed (apt-get install dovecot-imapd)")
    server = DovecotServer(binary)
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        db = Database(url)
        settings = Settings()
        imap = settings.mail.imap
        imap.host, imap.port, imap.ssl = server.host, server.port, False
        imap.username, imap.password = server.user, SecretStr(server.password)
        stored = asyncio.Event()
        stored_at: list[float] = []

        def on_stored() -> None:
            stored_at.append(time.perf_counter())
            stored.set()

        watcher = ImapWatcher(settings, db, on_stored=on_stored)
        await watcher.start()
        await asyncio.to_thread(watcher.connected.wait, 10)
        await asyncio.sleep(0.5)  # let it enter IDLE
        deliverer = server.client()
        latencies: list[float] = []
        try:
            for n in range(count):
                stored.clear()
                t0 = time.perf_counter()
                await asyncio.to_thread(deliverer.append, "INBOX", _mail(n))
                await asyncio.wait_for(stored.wait(), timeout=30)
                latencies.append(stored_at[-1] - t0)
                await asyncio.sleep(0.02)
        finally:
            deliverer.logout()
            await watcher.stop()
            db.dispose()
            server.cleanup()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    args = ap.parse_args()
    latencies = asyncio.run(run(args.messages))
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"IMAP APPEND -> committed row (IDLE), {len(latencies)} messages: "
          f"p50 {1000 * statistics.median(latencies):.1f} ms, p95 {1000 * p95:.1f} ms, "
          f"max {1000 * ordered[-1]:.1f} ms (target p95 <= 2000 ms)")


if __name__ == "__main__":
    main()
