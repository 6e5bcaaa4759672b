"""A letter that bounces is not "sent": the bounce is matched, the case reopened, staff told.

Real peers: the outbox sender delivers a real access report over SMTP to an aiosmtpd relay;
the relay's DSN (written as Postfix writes them: multipart/report; report-type=delivery-status
with the original headers) comes back to our receiver over smtplib with a null sender.
"""

from __future__ import annotations

import asyncio
import smtplib
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from bot.mail.delivery import OutboxSender
from bot.mail.delivery.smtp import SmtpBackend
from bot.mail.receiver import MailReceiver
from bot.pipeline import run_once
from bot.settings import Settings
from handlers.bounces import parse_bounce
from handlers.clock import FixedClock
from handlers.execute import finish_decided
from handlers.reminders import OVERDUE, ReminderPolicy, case_reminders
from storage.cases import transition
from storage.db import Database
from storage.models import (
    Case,
    CaseStatus,
    ChatNotification,
    Customer,
    InboundMessage,
    OutboundMessage,
)
from tests.fixtures.smtp_sink import SmtpSink
from tests.rights_support import ORG, add_customer, open_case


def dsn(original_headers: str, recipient: str, status: str = "5.1.1") -> bytes:
    """A delivery status notification as Postfix writes it (RFC 3464)."""
    return (
        "From: MAILER-DAEMON@mx.example.fi (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nTo: info@rusttet.fi\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Message-ID: <20261207091500.4F2A1@mx.example.fi>\r\n"
        'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="B4F2A1"\r\n'
        "\r\nThis is a MIME-encapsulated message.\r\n\r\n--B4F2A1\r\n"
        "Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.fi.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        f"<{recipient}>: host mx2.example.fi said: 550 {status} User unknown\r\n\r\n"
        "--B4F2A1\r\nContent-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.fi\r\nX-Postfix-Queue-ID: 4F2A1\r\n"
        "Arrival-Date: Mon,  7 Dec 2026 11:14:58 +0200 (EET)\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: failed\r\nStatus: {status}\r\nRemote-MTA: dns; mx2.example.fi\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected:\r\n"
        "    User unknown in virtual mailbox table\r\n\r\n"
        "--B4F2A1\r\nContent-Description: Undelivered Message Headers\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{original_headers}\r\n--B4F2A1--\r\n"
    ).encode()


def _done_access_case(db: Database) -> tuple[str, int]:
    with db.session() as s:
        customer = add_customer(s)
        case = open_case(s, customer, ["access"])
        transition(s, case, CaseStatus.APPROVED, actor="staff:anna", reasons=["approved"])
        assert customer.id is not None
        ids = case.id, customer.id
    assert finish_decided(db, ORG, clock=FixedClock(datetime.now(UTC)))["done"] == 1
    return ids


def _headers_of(data: bytes) -> str:
    return data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode().replace("\n", "\r\n")


async def test_dsn_for_a_real_access_report_reopens_the_case_and_alerts_staff(
    db: Database, tmp_path: Path
) -> None:
    case_id, customer_id = _done_access_case(db)
    async with SmtpSink() as relay:
        sender = OutboxSender(db, SmtpBackend("127.0.0.1", relay.port),
                              from_address="info@rusttet.fi")
        assert (await sender.send_due()).sent == 1
        report = relay.captured[0]
    settings = Settings()
    settings.database.url = db.url
    settings.mail.receiver.port = 0
    receiver = MailReceiver(settings, db)
    await receiver.start()
    try:
        def bounce_back() -> None:
            with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as smtp:
                smtp.sendmail("", ["info@rusttet.fi"],
                              dsn(_headers_of(report.data), report.rcpt_tos[0]))
        await asyncio.to_thread(bounce_back)
    finally:
        await receiver.stop()
    with db.read_session() as s:
        letters_before = len(s.exec(select(OutboundMessage)).all())
    await asyncio.to_thread(run_once, db, settings)

    with db.read_session() as s:
        letter = s.exec(select(OutboundMessage).where(
            OutboundMessage.kind == "access_report")).one()
        case = s.get(Case, case_id)
        customer = s.get(Customer, customer_id)
        inbound = s.exec(select(InboundMessage)).one()
        notes = [n.payload.get("text", "") for n in s.exec(select(ChatNotification)).all()]
        letters_after = len(s.exec(select(OutboundMessage)).all())
    assert letter.state == "bounced" and letter.bounce_status == "5.1.1"
    assert "User unknown" in (letter.bounce_diagnostic or "")
    assert case is not None and case.status == CaseStatus.DELIVERY_FAILED
    assert case.closed_at is None
    assert any("bounced (5.1.1)" in r and "registered address" in r for r in case.reasons)
    assert any("bounced" in n and case_id in n for n in notes), notes
    assert customer is not None and customer.email_undeliverable_status == "5.1.1"
    assert inbound.state == "ignored"
    assert letters_after == letters_before, "a bounce is never answered"
    # Open again: the overdue escalation runs for it as for any open case.
    assert [r.kind for r in case_reminders(case, date(2026, 4, 8), ReminderPolicy())] == [OVERDUE]

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n', encoding="utf-8")
    shown = CliRunner().invoke(app, ["--config", str(cfg), "case", case_id])
    assert shown.exit_code == 0, shown.output
    assert "delivery_failed" in shown.output and "bounced (5.1.1)" in shown.output
    assert "undeliverable" in shown.output


def test_a_delayed_notice_is_no_bounce() -> None:
    raw = dsn("Message-ID: <dsrbot.DSR-2026-0001.abc@rusttet.fi>\r\n", "a@example.fi")
    assert parse_bounce(raw, "rusttet.fi") is not None
    assert parse_bounce(raw.replace(b"Action: failed", b"Action: delayed"), "rusttet.fi") is None


def test_a_home_made_bounce_quoting_our_message_id_is_matched() -> None:
    raw = (b"From: postmaster@old.example.fi\r\nSubject: Returned mail\r\n"
           b"To: info@rusttet.fi\r\n\r\nYour mail could not be delivered.\r\n"
           b"550 No such user here\r\n\r\n--- original message ---\r\n"
           b"Message-ID: <dsrbot.DSR-2026-0004.1f2e@rusttet.fi>\r\nSubject: [DSR-2026-0004]\r\n")
    bounce = parse_bounce(raw, "rusttet.fi")
    assert bounce is not None
    assert bounce.message_ids == ["<dsrbot.DSR-2026-0004.1f2e@rusttet.fi>"]
    assert bounce.status == "5.0.0" and bounce.permanent
    assert "No such user" in bounce.diagnostic


def test_a_foreign_message_id_matches_nothing() -> None:
    raw = dsn("Message-ID: <someone-else@example.org>\r\n", "a@example.fi")
    assert parse_bounce(raw, "rusttet.fi") is None
