"""The service's SMTP receiver while the database is busy, and with a 25 MB attachment.

The rules: a message is acknowledged (250) only once it is committed, so while another process
holds SQLite's write lock the receiver either waits or answers 451 (the sending MTA keeps the
mail and retries); either way the message is stored exactly once. A 25 MB attachment (about
34 MB on the wire once base64-encoded) is accepted under the default limit (40 MiB), refused
with 552 over a smaller configured limit, and the pipeline makes a case of it without crashing.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.mail.receiver import MailReceiver
from bot.settings import Settings
from storage.db import Database
from storage.models import InboundMessage
from tests import test_e2e_access as kit
from tests.fixtures.fake_telegram import FakeTelegram
from tests.fixtures.smtp_sink import SmtpSink
from tests.identity_kit import mail
from tests.test_e2e_access import REGISTERED, UID, Service, eventually

peers = kit.peers

ATTACHMENT_BYTES = 25 * 1024 * 1024
REQUEST = ("Tarkastuspyyntö", "Hei,\n\nhaluan tarkastaa mitä tietoja minusta on "
           "rekisterissänne. Allekirjoitettu pyyntö liitteenä.\n\nMaija Virtanen\n")


def deliver_like_an_mta(port: int, raw: bytes, attempts: int = 20) -> list[int]:
    """Send; on a 4xx try again (as a real MTA's queue would); return every DATA reply."""
    replies: list[int] = []
    for _ in range(attempts):
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
            client.ehlo()
            client.mail(REGISTERED)
            client.rcpt("info@rusttet.fi")
            code, _ = client.data(raw)
        replies.append(code)
        if code < 400 or code >= 500:
            return replies
        time.sleep(0.5)
    return replies


def inbound_rows(db: Database) -> list[InboundMessage]:
    with db.read_session() as s:
        return list(s.exec(select(InboundMessage)).all())


@pytest.fixture
async def sqlite_service(
    tmp_path: Path, sqlite_url: str, peers: tuple[SmtpSink, FakeTelegram]
) -> AsyncIterator[Service]:
    sink, fake = peers
    svc = kit.make_service(tmp_path, sqlite_url, sink, fake, None,
                           mail={"receiver": {"enabled": True, "host": "127.0.0.1", "port": 0}},
                           chat={"backend": "console"})
    try:
        yield svc
    finally:
        await svc.stop()
        svc.db.dispose()


async def test_database_locked_by_another_writer_the_receiver_waits_and_stores_once(
    sqlite_service: Service,
) -> None:
    svc = sqlite_service
    await svc.start()
    port = svc.component("smtp-receiver").port
    path = svc.settings.database.url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    raw = kit.signed_request(*REQUEST, message_id="<fail-db-busy@example.fi>")
    sending = asyncio.create_task(asyncio.to_thread(deliver_like_an_mta, port, raw))
    await asyncio.sleep(3)  # the message arrives while the lock is held
    assert inbound_rows(svc.db) == [] and not sending.done()
    blocker.execute("COMMIT")
    blocker.close()
    replies = await sending
    assert replies[-1] == 250 and all(r in (250, 451) for r in replies)
    rows = inbound_rows(svc.db)
    assert len(rows) == 1 and rows[0].message_id == "<fail-db-busy@example.fi>"
    await eventually(lambda: len(svc.cases()) == 1, "the request becomes a case")
    assert len(inbound_rows(svc.db)) == 1


def big_request() -> bytes:
    scan = os.urandom(ATTACHMENT_BYTES)
    return mail(from_=UID, subject=REQUEST[0], body=REQUEST[1],
                attachments=[("allekirjoitettu.jpg", "image/jpeg", scan)],
                message_id="<fail-25mb@example.fi>")


async def test_25_mb_attachment_is_accepted_under_the_default_limit_and_made_a_case(
    sqlite_service: Service,
) -> None:
    svc = sqlite_service
    await svc.start()
    raw = big_request()
    assert len(raw) > 30 * 1024 * 1024  # base64 makes 25 MB about 34 MB on the wire
    replies = await asyncio.to_thread(deliver_like_an_mta, svc.component("smtp-receiver").port,
                                      raw)
    assert replies == [250]
    await eventually(lambda: [r.state for r in inbound_rows(svc.db)] == ["processed"],
                     "the pipeline processes the big message", timeout=120)
    [row] = inbound_rows(svc.db)
    assert not any("internal error" in r for r in row.reasons), row.reasons
    [case] = svc.cases()
    assert case.types == ["access"]
    # The scan cannot prove anything by itself: a person looks at it.
    assert case.signature_state == "staff_to_check"


async def test_25_mb_attachment_over_a_configured_limit_is_refused_with_552(
    sqlite_db: Database,
) -> None:
    settings = Settings()
    settings.mail.receiver.port = 0
    settings.mail.receiver.max_message_bytes = 30 * 1024 * 1024
    receiver = MailReceiver(settings, sqlite_db)
    await receiver.start()
    try:
        replies = await asyncio.to_thread(deliver_like_an_mta, receiver.port, big_request())
    finally:
        await receiver.stop()
    assert replies == [552]
    assert inbound_rows(sqlite_db) == []

