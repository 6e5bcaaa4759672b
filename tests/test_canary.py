"""The mailbox canary against real peers: it goes out, comes back, is removed; a dead relay
raises one alert and its recovery one more.

Peers: the service's own components (what ``dsrbot run`` builds) in the test's loop, an
aiosmtpd relay (tests/fixtures/relay.py) as the outgoing server, which delivers mail for our
address into a real Dovecot (as a local delivery agent would) or to our SMTP receiver.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import select

from bot.service import Component, build_components
from bot.settings import Settings
from storage import migrate
from storage.db import Database
from storage.models import (
    CanaryProbe,
    Case,
    ChatNotification,
    InboundMessage,
    OutboundMessage,
)
from tests.fixtures.dovecot import (  # noqa: F401  (fixtures)
    DovecotServer,
    dovecot,
    dovecot_server,
)
from tests.fixtures.relay import ThreadedRelay, smtp_onward
from tests.fixtures.smtp_sink import Captured

OURS = "info@rusttet.fi"
IT = "it-tuki@rusttet.fi"


def _settings(tmp_path: Path, relay_port: int) -> Settings:
    settings = Settings()
    settings.database.url = f"sqlite:///{tmp_path / 'dsrbot.db'}"
    out = settings.mail.outgoing
    out.backend, out.port = "smtp", relay_port
    settings.mail.receiver.enabled = False
    settings.scheduler.enabled = False
    health = settings.health
    health.canary_interval_minutes, health.canary_alert_minutes = 0.05, 0.1  # 3 s and 6 s
    health.silence_alert_hours, health.alert_to = 0, IT
    return settings


async def _until(check: Callable[[], object], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)


def _rows(db: Database, model: type) -> list:  # type: ignore[type-arg]
    with db.read_session() as session:
        return list(session.exec(select(model)).all())


def _notices(db: Database, words: str) -> list[str]:
    return [t for n in _rows(db, ChatNotification) if words in (t := n.payload.get("text", ""))]


def _inbox(server: DovecotServer) -> list[int]:
    client = server.client()
    try:
        client.select_folder("INBOX", readonly=True)
        return list(client.search(["NOT", "DELETED"]))
    finally:
        client.logout()


@pytest.fixture
async def running() -> AsyncIterator[Callable[[Settings], object]]:
    started: list[Component] = []
    dbs: list[Database] = []

    async def start(settings: Settings) -> Database:
        migrate.upgrade(settings.database.url)
        db = Database(settings.database.url)
        dbs.append(db)
        for component in build_components(settings, db):
            await component.start()
            started.append(component)
        return db

    yield start
    for component in reversed(started):
        await asyncio.wait_for(component.stop(), timeout=15)
    for db in dbs:
        db.dispose()


async def test_probe_goes_out_comes_back_over_imap_and_is_removed_and_a_dead_relay_alerts_once(
    tmp_path: Path, dovecot: DovecotServer, running: Callable[[Settings], object],  # noqa: F811
) -> None:
    def into_mailbox(captured: Captured) -> None:
        if OURS in captured.rcpt_tos:
            dovecot.append(captured.data)

    relay = ThreadedRelay(into_mailbox).start()
    try:
        settings = _settings(tmp_path, relay.port)
        imap = settings.mail.imap
        imap.enabled, imap.host, imap.port, imap.ssl = True, dovecot.host, dovecot.port, False
        imap.username, imap.password = dovecot.user, SecretStr(dovecot.password)
        imap.poll_seconds = 0.5
        db = await running(settings)
        assert isinstance(db, Database)

        await _until(lambda: any(p.arrived_at for p in _rows(db, CanaryProbe)), "a probe back")
        await _until(lambda: relay.to(OURS) and not _inbox(dovecot), "the probe removed")
        probes = [r for r in _rows(db, InboundMessage)]
        assert probes and {r.state for r in probes} == {"canary"}
        assert _rows(db, Case) == []
        assert {r.kind for r in _rows(db, OutboundMessage)} == {"canary"}, "nothing answered"
        back = next(p for p in _rows(db, CanaryProbe) if p.arrived_at)
        assert back.round_trip_seconds is not None and back.round_trip_seconds > 0

        relay.stop()  # the outgoing path breaks
        await _until(lambda: _notices(db, "has not come back"), "the late alert")
        await asyncio.sleep(4)  # several more ticks and probes: still one alert
        assert len(_notices(db, "has not come back")) == 1
        relay.start()
        await _until(lambda: _notices(db, "recovered"), "the recovery notice")
        await asyncio.sleep(4)
        assert len(_notices(db, "has not come back")) == 1
        assert len(_notices(db, "recovered")) == 1
        alerts = [r for r in _rows(db, OutboundMessage) if r.kind == "health_alert"]
        assert sorted(r.subject for r in alerts) == ["dsrbot: mailbox canary late",
                                                     "dsrbot: mailbox canary recovered"]
        assert {r.recipient for r in alerts} == {IT}
    finally:
        relay.close()


async def test_probe_through_our_smtp_receiver_is_recognised_and_never_a_case(
    tmp_path: Path, running: Callable[[Settings], object],
) -> None:
    from tests.run_kit import free_port

    port = free_port()
    relay = ThreadedRelay(smtp_onward(port, {OURS})).start()
    try:
        settings = _settings(tmp_path, relay.port)
        settings.mail.receiver.enabled, settings.mail.receiver.port = True, port
        settings.mail.receiver.forward_other_to = "asiakaspalvelu@rusttet.fi"
        db = await running(settings)
        assert isinstance(db, Database)
        await _until(lambda: any(p.arrived_at for p in _rows(db, CanaryProbe)), "a probe back")
        await _until(lambda: all(r.state != "received" for r in _rows(db, InboundMessage)),
                     "processed")
    finally:
        relay.close()
    assert {r.state for r in _rows(db, InboundMessage)} == {"canary"}
    assert _rows(db, Case) == []
    kinds = {r.kind for r in _rows(db, OutboundMessage)}
    assert kinds == {"canary"}, "a probe is never answered nor forwarded"


async def test_a_forged_canary_header_from_outside_is_ordinary_mail(
    tmp_path: Path, sqlite_db: Database
) -> None:
    from datetime import UTC, datetime

    from bot.pipeline import run_once
    from storage import inbox

    settings = Settings()
    settings.database.url = sqlite_db.url
    raw = (b"From: Maija <maija@example.fi>\r\nTo: info@rusttet.fi\r\n"
           b"Subject: Poistakaa tietoni\r\nMessage-ID: <forged@example.fi>\r\n"
           b"X-Dsrbot-Canary: made-up-token\r\n\r\n"
           b"Poistakaa kaikki tietoni rekisteristanne.\r\n")
    with sqlite_db.session() as session:
        inbox.store_inbound(session, raw, channel="smtp", envelope_from="", envelope_to=[],
                            received_at=datetime.now(UTC))
    await asyncio.to_thread(run_once, sqlite_db, settings)
    assert [r.state for r in _rows(sqlite_db, InboundMessage)] == ["processed"]
    assert len(_rows(sqlite_db, Case)) == 1
