"""Canary benchmark (issue 15): probe round trip through the real outgoing and incoming paths.

The service's own components (outbox sender over SMTP, IMAP watcher in IDLE, pipeline) in one
loop; an aiosmtpd relay on loopback that delivers mail for our address into a real Dovecot
(IMAP APPEND, as a local delivery agent would). Each probe is enqueued as the health monitor
does (``handlers.canary.send_probe``) and the clock stops when the pipeline recognises it:
the recorded ``round_trip_seconds``. Also reports how long until the probe left the mailbox.

Run: ``python benchmarks/bench_canary.py [--probes N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.mail.delivery import OutboxSender
from bot.policy_from_settings import org_info
from bot.service import build_components
from bot.settings import Settings
from handlers import canary
from handlers.policy import HealthPolicy
from storage import migrate
from storage.db import Database
from storage.models import CanaryProbe
from tests.fixtures.dovecot import DovecotServer, find_dovecot
from tests.fixtures.relay import ThreadedRelay
from tests.fixtures.smtp_sink import Captured


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)]


async def run(count: int) -> list[float]:
    binary = find_dovecot()
    if binary is None:
        raise SystemExit("dovecot is not installed (apt-get install dovecot-imapd)")
    server = DovecotServer(binary)
    server.start()

    def into_mailbox(captured: Captured) -> None:
        server.append(captured.data)

    relay = ThreadedRelay(into_mailbox).start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.database.url = url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings.mail.outgoing.backend, settings.mail.outgoing.port = "smtp", relay.port
        settings.mail.receiver.enabled = settings.scheduler.enabled = False
        settings.health.canary_interval_minutes = settings.health.silence_alert_hours = 0
        imap = settings.mail.imap
        imap.enabled, imap.host, imap.port, imap.ssl = True, server.host, server.port, False
        imap.username, imap.password = server.user, SecretStr(server.password)
        migrate.upgrade(url)
        db = Database(url)
        components = build_components(settings, db)
        for component in components:
            await component.start()
        sender = next(c for c in components if isinstance(c, OutboxSender))
        policy = HealthPolicy(org=org_info(settings), canary_interval=timedelta(milliseconds=1))
        trips: list[float] = []
        try:
            await asyncio.sleep(1.0)  # the watcher connects and enters IDLE
            for _ in range(count):
                with db.session() as session:
                    canary.send_probe(session, policy, datetime.now(UTC))
                sender.notify()
                deadline = time.monotonic() + 30
                while True:
                    with db.read_session() as session:
                        probe = session.exec(select(CanaryProbe).order_by(
                            CanaryProbe.id.desc())).first()  # type: ignore[union-attr]
                    if probe is not None and probe.round_trip_seconds is not None:
                        trips.append(probe.round_trip_seconds)
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit("a probe did not come back within 30 s")
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)
        finally:
            for component in reversed(components):
                await component.stop()
            db.dispose()
            relay.close()
            server.cleanup()
    return trips


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", type=int, default=50)
    args = ap.parse_args()
    trips = asyncio.run(run(args.probes))
    print(f"canary round trip (outbox -> SMTP relay -> Dovecot -> IMAP IDLE -> pipeline), "
          f"{len(trips)} probes: p50 {1000 * statistics.median(trips):.0f} ms, "
          f"p95 {1000 * _pct(trips, 0.95):.0f} ms, max {1000 * max(trips):.0f} ms")


if __name__ == "__main__":
    main()
