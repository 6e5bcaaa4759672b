"""Builders for the retention tests: stored mail, delivered letters, closed cases, and a
reader for what a stored row still holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlmodel import Session, col, select

from mailformat import OutAttachment
from storage import inbox, outbox
from storage.db import Database
from storage.models import Case, CaseStatus, InboundMessage, OutboundAttachment, OutboundMessage

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def mail_bytes(sender: str, body: str, *, subject: str = "Hello", msgid: str = "") -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "info@rusttet.fi"
    m["Subject"] = subject
    m["Message-ID"] = msgid or f"<{abs(hash((sender, body, subject)))}@example.fi>"
    m.set_content(body)
    return m.as_bytes()


def store_mail(session: Session, raw: bytes, *, received_at: datetime, state: str,
               case_id: str | None = None) -> int:
    row, _ = inbox.store_inbound(session, raw, channel="smtp", envelope_from="x@example.fi",
                                 envelope_to=["info@rusttet.fi"], received_at=received_at)
    if state != "received":
        inbox.mark(session, row, state, ["test outcome"], case_id=case_id, at=received_at)
    assert row.id is not None
    return row.id


def add_letter(session: Session, *, case_id: str | None, recipient: str, body: str,
               kind: str = "access_report", files: dict[str, bytes] | None = None,
               sent_at: datetime | None = None) -> int:
    row = outbox.enqueue(session, kind=kind, recipient=recipient, subject="[case] Your data",
                         body_text=body, domain="rusttet.fi", case_id=case_id,
                         attachments=[OutAttachment(n, "application/pdf", d)
                                      for n, d in (files or {}).items()])
    assert row.id is not None
    if sent_at is not None:
        outbox.mark_sent(session, row.id, now=sent_at)
    return row.id


def close_case(session: Session, case: Case, *, at: datetime,
               status: CaseStatus = CaseStatus.DONE) -> None:
    case.status = status.value
    case.closed_at = at
    session.add(case)
    session.flush()


def inbound(db: Database, row_id: int) -> InboundMessage:
    with db.read_session() as s:
        row = s.get(InboundMessage, row_id)
        assert row is not None
        return row


def letter(db: Database, row_id: int) -> tuple[OutboundMessage | None, list[OutboundAttachment]]:
    with db.read_session() as s:
        files = s.exec(select(OutboundAttachment)
                       .where(col(OutboundAttachment.outbound_id) == row_id)).all()
        return s.get(OutboundMessage, row_id), list(files)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)
