"""One mail that reaches us over SMTP and over IMAP is one inbound row and one case.

Deployment shape 2 (the MTA delivers a copy to us and one to the mailbox) with the IMAP
watcher on as well: the copies differ only in their trace headers and line endings.
Real peers: our receiver driven by smtplib, a real Dovecot for the IMAP copy.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Callable

from pydantic import SecretStr
from sqlmodel import select

from bot.mail.imap_watcher import ImapWatcher
from bot.mail.receiver import MailReceiver
from bot.pipeline import run_once
from bot.settings import Settings
from storage.db import Database
from storage.models import Case, InboundMessage, OutboundMessage
from tests.fixtures.dovecot import (  # noqa: F401  (fixtures)
    DovecotServer,
    dovecot,
    dovecot_server,
)

REQUEST = (
    "From: Maija Virtanen <maija@example.fi>\r\nTo: info@rusttet.fi\r\n"
    "Subject: Poistakaa tietoni\r\nMessage-ID: <twice-1@example.fi>\r\n"
    "Date: Mon, 07 Dec 2026 09:00:00 +0200\r\n\r\n"
    "Poistakaa kaikki tietoni rekisteristänne.\r\n\r\nMaija Virtanen\r\n"
)
VIA_SMTP = "Received: from mx1.rusttet.fi by dsrbot; Mon, 07 Dec 2026 09:00:02 +0200\r\n"
VIA_IMAP = ("Return-Path: <maija@example.fi>\r\nDelivered-To: info@rusttet.fi\r\n"
            "Received: from mx1.rusttet.fi by imap.rusttet.fi; Mon, 07 Dec 2026 09:00:03 +0200\r\n"
            "X-Spam-Score: 0.1\r\n")


def _settings(server: DovecotServer) -> Settings:
    settings = Settings()
    settings.mail.receiver.port = 0
    imap = settings.mail.imap
    imap.enabled, imap.host, imap.port, imap.ssl = True, server.host, server.port, False
    imap.username, imap.password = server.user, SecretStr(server.password)
    imap.start_from, imap.poll_seconds = "all", 0.3
    return settings


async def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def _imap_uid(db: Database) -> int | None:
    with db.read_session() as session:
        row = session.exec(select(InboundMessage)).first()
        return row.imap_uid if row else None


def _count(db: Database, model: type) -> int:
    with db.read_session() as session:
        return len(session.exec(select(model)).all())


async def test_same_request_over_smtp_and_imap_is_one_row_and_one_case(
    dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    settings = _settings(dovecot)
    receiver = MailReceiver(settings, sqlite_db)
    watcher = ImapWatcher(settings, sqlite_db, backoff_initial=0.2, backoff_max=1.0)
    await receiver.start()
    await watcher.start()
    try:
        def send() -> None:
            with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as smtp:
                smtp.sendmail("maija@example.fi", ["info@rusttet.fi"],
                              (VIA_SMTP + REQUEST).encode())
        await asyncio.to_thread(send)
        await asyncio.to_thread(run_once, sqlite_db, settings)
        # The mailbox copy: LF line ends as a maildir keeps them, other trace headers.
        dovecot.append((VIA_IMAP + REQUEST).replace("\r\n", "\n").encode())
        await _until(lambda: _imap_uid(sqlite_db) is not None)
        await asyncio.to_thread(run_once, sqlite_db, settings)
        synced = watcher.syncs
        watcher.wake()  # the copy in INBOX belongs to a case now: it is moved out
        await _until(lambda: watcher.syncs > synced)
    finally:
        await watcher.stop()
        await receiver.stop()
    with sqlite_db.read_session() as session:
        rows = session.exec(select(InboundMessage)).all()
        receipts = session.exec(select(OutboundMessage).where(
            OutboundMessage.kind == "receipt")).all()
    assert len(rows) == 1 and rows[0].channel == "smtp"
    assert rows[0].imap_moved_at is not None, "the IMAP copy was recognised as the same mail"
    assert _count(sqlite_db, Case) == 1
    assert len(receipts) == 1


def test_a_different_mail_under_a_reused_message_id_is_still_stored(sqlite_db: Database) -> None:
    from datetime import UTC, datetime

    from storage.inbox import store_inbound

    other = REQUEST.replace("Poistakaa kaikki", "Korjatkaa")
    with sqlite_db.session() as session:
        first, _ = store_inbound(session, (VIA_SMTP + REQUEST).encode(), channel="smtp",
                                 envelope_from="", envelope_to=[], received_at=datetime.now(UTC))
        again, new_again = store_inbound(session, (VIA_IMAP + REQUEST).encode(), channel="imap",
                                         envelope_from="", envelope_to=[],
                                         received_at=datetime.now(UTC))
        changed, new_changed = store_inbound(session, other.encode(), channel="imap",
                                             envelope_from="", envelope_to=[],
                                             received_at=datetime.now(UTC))
    assert again.id == first.id and not new_again
    assert new_changed and changed.id != first.id
