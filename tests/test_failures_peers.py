"""The whole service while a peer fails: the SMTP relay down, Telegram down or slow, Dovecot
restarted while the watcher idles.

Requests come in through the service's own SMTP receiver (smtplib over a real socket), letters
go to the aiosmtpd sink, the staff chat is the real python-telegram-bot against the fake Bot
API. The rules: a relay outage delays letters but loses none and sends none twice; a Telegram
outage or a slow Telegram never holds up cases or receipts; an IMAP server restart loses no
request and answers none twice.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from storage import chat_outbox
from storage.models import OutboundMessage
from storage.outbox import Backoff
from tests import test_e2e_access as kit
from tests.fixtures.dovecot import DovecotServer, dovecot, dovecot_server  # noqa: F401
from tests.fixtures.fake_telegram import FakeTelegram
from tests.fixtures.smtp_sink import SmtpSink
from tests.test_e2e_access import REGISTERED, Service, eventually, shown, signed_request

peers = kit.peers

OPT_OUT = ("Suoramarkkinointikielto",
           "Hei,\n\nen halua enää suoramainontaa enkä puhelinmyyntiä.\n\nMaija Virtanen\n")
ACCESS = ("Tarkastuspyyntö",
          "Hei,\n\nhaluan tarkastaa mitä tietoja minusta on rekisterissänne.\n\nMaija Virtanen\n")


def send_by_smtp(port: int, raw: bytes) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        return client.sendmail(REGISTERED, ["info@rusttet.fi"], raw)


async def mail_in(svc: Service, subject: str, text: str, message_id: str) -> None:
    port = svc.component("smtp-receiver").port
    raw = signed_request(subject, text, message_id=message_id)
    assert await asyncio.to_thread(send_by_smtp, port, raw) == {}


def outbox_rows(svc: Service) -> list[OutboundMessage]:
    with svc.db.read_session() as s:
        return list(s.exec(select(OutboundMessage)).all())


@pytest.fixture
async def smtp_service(
    tmp_path: Path, db_url: str, peers: tuple[SmtpSink, FakeTelegram]
) -> AsyncIterator[Service]:
    """The service without IMAP (mail comes in by SMTP), retrying the relay quickly."""
    sink, fake = peers
    svc = kit.make_service(tmp_path, db_url, sink, fake, None)
    sender = svc.component("outbox-sender")
    # The same retry loop as in production, on a test's time scale.
    sender.backoff = Backoff(base=timedelta(seconds=0.2), cap=timedelta(seconds=1))
    sender.poll_seconds = 0.5
    try:
        yield svc
    finally:
        await svc.stop()
        svc.db.dispose()


async def test_relay_down_for_a_while_delays_letters_and_delivers_each_once_when_back(
    smtp_service: Service,
) -> None:
    svc = smtp_service
    await svc.sink.stop()  # the relay is down before the first letter is written
    await svc.start()
    await mail_in(svc, *OPT_OUT, message_id="<fail-relay@example.fi>")

    # The opt-out is carried out at once; its two letters wait in the outbox, retried.
    await eventually(lambda: [c.status for c in svc.cases()] == ["done"], "opt-out done")
    assert svc.customer().marketing_ban is True
    await eventually(lambda: len(outbox_rows(svc)) == 2
                     and all(r.attempts >= 2 for r in outbox_rows(svc)),
                     "both letters retried while the relay is down")
    assert all(r.state != "sent" and r.last_error for r in outbox_rows(svc))
    assert svc.sink.captured == []

    await svc.sink.start()  # the relay is back on the same port
    await eventually(lambda: all(r.state == "sent" for r in outbox_rows(svc)),
                     "every letter is sent once the relay is back")
    rows = outbox_rows(svc)
    delivered = Counter(str(c.message["Message-ID"]) for c in svc.sink.captured)
    assert delivered == Counter(r.message_id for r in rows)  # each exactly once
    assert sorted(r.kind for r in rows) == ["marketing_optout", "receipt"]
    assert all([t.lower() for t in c.rcpt_tos] == [REGISTERED] for c in svc.sink.captured)
    assert svc.audit_ok()


async def test_telegram_down_cases_are_opened_and_receipts_sent_regardless(
    smtp_service: Service,
) -> None:
    svc = smtp_service
    svc.fake.down = True  # every Bot API call answers 502 from before the start
    await svc.start()
    await mail_in(svc, *ACCESS, message_id="<fail-tg-down@example.fi>")

    await eventually(lambda: [c.status for c in svc.cases()] == ["awaiting_approval"],
                     "the case is opened and waits for staff")
    [case] = svc.cases()
    assert case.due_date is not None  # the deadline runs whatever the chat does
    await eventually(lambda: len(svc.sink.captured) == 1, "the receipt is sent")
    assert case.id in str(svc.sink.captured[0].message["Subject"])

    def notification_kept_for_later() -> bool:
        with svc.db.read_session() as s:
            rows = chat_outbox.notifications_for(s, case.id)
            return bool(rows) and rows[0].attempts >= 1 and rows[0].last_error is not None

    await eventually(notification_kept_for_later, "the chat notification failed and is kept")
    with svc.db.read_session() as s:
        assert chat_outbox.notifications_for(s, case.id)[0].state == "pending"
    assert svc.fake.calls_to("getMe")  # the service kept trying to reach Telegram
    assert not shown(svc.fake, case.id)


@dataclass
class SlowTelegram(FakeTelegram):
    """The fake Bot API, answering every call only after ``delay`` seconds."""

    delay: float = 0.0

    async def _dispatch(self, http_method: str, target: str, headers: dict[str, str],
                        body: bytes) -> tuple[int, str, bytes]:
        await asyncio.sleep(self.delay)
        return await super()._dispatch(http_method, target, headers, body)


async def test_slow_telegram_holds_up_neither_cases_nor_receipts(
    tmp_path: Path, db_url: str,
) -> None:
    sink = await SmtpSink().start()
    fake = SlowTelegram(delay=2.0)
    await fake.start()
    svc = kit.make_service(tmp_path, db_url, sink, fake, None)
    try:
        await svc.start()
        await mail_in(svc, *ACCESS, message_id="<fail-tg-slow@example.fi>")
        await eventually(lambda: [c.status for c in svc.cases()] == ["awaiting_approval"],
                         "the case is opened")
        await eventually(lambda: len(sink.captured) == 1, "the receipt is sent")
        [case] = svc.cases()
        # Late, but it arrives: the staff see the case once Telegram answers.
        await eventually(lambda: shown(fake, case.id), "the case reaches the chat", timeout=60)
    finally:
        await svc.stop()
        svc.db.dispose()
        await fake.stop()
        await sink.stop()


async def test_dovecot_restart_while_the_service_idles_loses_nothing_and_repeats_nothing(
    tmp_path: Path, db_url: str, peers: tuple[SmtpSink, FakeTelegram],
    dovecot: DovecotServer,  # noqa: F811
) -> None:
    sink, fake = peers
    svc = kit.make_service(tmp_path, db_url, sink, fake, dovecot)
    try:
        dovecot.append(signed_request(*OPT_OUT, message_id="<fail-imap-1@example.fi>"))
        await svc.start()
        await eventually(lambda: [c.status for c in svc.cases()] == ["done"],
                         "the first request is carried out")
        await eventually(lambda: kit.mailbox_uids(dovecot, "INBOX") == [],
                         "the first request leaves INBOX; the watcher is back in IDLE")
        await asyncio.to_thread(dovecot.restart)  # every connection drops, like a real restart
        dovecot.append(signed_request(*ACCESS, message_id="<fail-imap-2@example.fi>"))
        await eventually(lambda: len(svc.cases()) == 2, "the request after the restart arrives")
        await eventually(lambda: len(sink.captured) == 3, "two receipts and one confirmation")
        await eventually(lambda: kit.mailbox_uids(dovecot, "INBOX") == [],
                         "the second request leaves INBOX too")
        assert len(svc.inbound()) == 2
        delivered = Counter(str(c.message["Message-ID"]) for c in sink.captured)
        assert set(delivered.values()) == {1}
        assert sorted(r.kind for r in outbox_rows(svc)) == [
            "marketing_optout", "receipt", "receipt"]
    finally:
        await svc.stop()
        svc.db.dispose()
