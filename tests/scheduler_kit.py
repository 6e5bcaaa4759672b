"""Builders for the scheduler tests: cases at a given point of their month, challenges,
customers past retention, and readers for what the clock did (claims, chat rows, letters)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.settings import IdentitySettings
from handlers import cases as engine
from handlers import challenge as challenges
from storage import cases as store
from storage.db import Database
from storage.models import (
    CaseStatus,
    ChatNotification,
    Customer,
    Invoice,
    OutboundMessage,
    SentReminder,
)
from tests import factories
from tests.db_reads import audit_actions as audit_actions

HELSINKI = ZoneInfo("Europe/Helsinki")


def local(day: date | str, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in Helsinki, as UTC."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=HELSINKI).astimezone(UTC)


def write_config(tmp_path: Path, db_url: str, extra: str = "") -> str:
    cfg = tmp_path / "dsrbot.toml"
    cfg.write_text(f'[database]\nurl = "{db_url}"\n{extra}', encoding="utf-8")
    return str(cfg)


def add_customer(
    s: Session, number: str, *, email: str = "", end: date | None = None,
    org_contact: bool = False,
) -> Customer:
    return factories.add_customer(
        s, number, email=email, phone="+358401234567",
        postal_address="Hämeenkatu 12 B 7, 33100 Tampere", relationship_start=date(2005, 1, 1),
        relationship_end=end, is_org_contact=org_contact)


def add_open_invoice(s: Session, customer: Customer, number: str) -> Invoice:
    assert customer.id is not None
    invoice = Invoice(invoice_number=number, customer_id=customer.id, issued_at=date(2015, 1, 1),
                      due_date=date(2015, 2, 1), amount_cents=12990, status="open")
    s.add(invoice)
    s.flush()
    return invoice


def open_case(
    db: Database,
    received_at: datetime,
    *,
    types: Sequence[str] = ("access",),
    status: CaseStatus = CaseStatus.AWAITING_APPROVAL,
    requester: str = "maija@example.fi",
    assignee: str | None = None,
) -> str:
    with db.session() as s:
        case = engine.open_case(s, types=list(types), requester=requester, language="fi",
                                received_at=received_at, thread_ids=["<req@mail.example.fi>"])
        if status != CaseStatus.RECEIVED:
            store.transition(s, case, status, actor="dsrbot", reasons=["test"])
        if assignee:
            engine.assign(s, case, staff=assignee, actor="staff:anna", now=received_at)
        return case.id


def case_awaiting_code(
    db: Database, issued_at: datetime, *, number: str, ttl_hours: int = 72,
    registered: str = "registered@example.fi", requester: str = "asker@example.net",
) -> str:
    """A case waiting for the code that went to the registered address at ``issued_at``."""
    case_id = open_case(db, issued_at, status=CaseStatus.AWAITING_IDENTITY, requester=requester)
    with db.session() as s:
        customer = add_customer(s, number, email=registered, end=None)
        case = store.get_case(s, case_id)
        assert case is not None
        challenges.issue_challenge(s, case, customer, issued_at,
                                   settings=IdentitySettings(challenge_ttl_hours=ttl_hours))
    return case_id


def claims(db: Database, case_id: str | None = None) -> list[SentReminder]:
    with db.read_session() as s:
        stmt = select(SentReminder).order_by(col(SentReminder.id))
        if case_id is not None:
            stmt = stmt.where(col(SentReminder.case_id) == case_id)
        return list(s.exec(stmt).all())


def chat_rows(db: Database) -> list[ChatNotification]:
    with db.read_session() as s:
        return list(s.exec(select(ChatNotification).order_by(col(ChatNotification.id))).all())


def chat_counts(db: Database) -> Counter[tuple[str | None, str, str]]:
    """How many chat rows per (case, reminder kind, key), where key tells rows apart."""
    counts: Counter[tuple[str | None, str, str]] = Counter()
    for row in chat_rows(db):
        kind = str(row.payload.get("reminder", row.kind))
        counts[(row.case_id, kind, str(row.payload.get("day", row.id if kind == "text" else "")))
               ] += 1
    return counts


def letters(db: Database, kind: str) -> list[OutboundMessage]:
    with db.read_session() as s:
        return list(s.exec(select(OutboundMessage).where(col(OutboundMessage.kind) == kind)
                           .order_by(col(OutboundMessage.id))).all())


def letters_of_case(db: Database, case_id: str) -> list[OutboundMessage]:
    with db.read_session() as s:
        return list(s.exec(select(OutboundMessage).where(col(OutboundMessage.case_id) == case_id)
                           .order_by(col(OutboundMessage.id))).all())


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
