"""Reads for the web desk: the queue, one case's surroundings, the reporting facts.

Why column selects for the queue and the report: they list every open (or every) case, and a
case row carries JSON details and reasons the lists never show; reading only the columns shown
keeps a 10,000-case queue to one light query. The case page reads whole rows, but of one case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, cast, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from storage.cases import effective_due_column
from storage.models import (
    Case,
    CaseStatistic,
    Customer,
    IdentityChallenge,
    InboundMessage,
    Invoice,
    InvoiceStatus,
    LegalHold,
    OutboundAttachment,
    OutboundMessage,
    Staff,
)


@dataclass(frozen=True)
class QueueRow:
    id: str
    types: list[str]
    status: str
    requester: str
    language: str
    received_at: datetime
    due: date
    extended: bool
    assignee: str | None


def _queue_filter(stmt: Any, closed: Iterable[str], status: str, kind: str) -> Any:
    stmt = stmt.where(col(Case.status).not_in(list(closed)))
    if status:
        stmt = stmt.where(col(Case.status) == status)
    if kind:
        # The JSON list as text contains the quoted name (types are a closed vocabulary).
        stmt = stmt.where(cast(col(Case.types), String).like(f'%"{kind}"%'))
    return stmt


def open_queue_due_counts(session: Session, closed: Iterable[str], *, status: str = "",
                          kind: str = "") -> list[tuple[date, int]]:
    """How many open cases fall due on each day (a few dozen rows, whatever the queue size)."""
    due = effective_due_column()
    stmt = _queue_filter(select_columns(due, func.count()), closed, status, kind)
    return [(d, int(n)) for d, n in session.execute(stmt.group_by(due).order_by(due)).all()]


def open_queue(session: Session, closed: Iterable[str], *, status: str = "", kind: str = "",
               limit: int | None = None, offset: int = 0) -> list[QueueRow]:
    """Open cases (not in a ``closed`` status), soonest due first (ties by id), one page."""
    due = effective_due_column()
    stmt = _queue_filter(
        select_columns(col(Case.id), col(Case.types), col(Case.status), col(Case.requester),
                       col(Case.language), col(Case.received_at), due, col(Case.extended),
                       col(Case.assignee)), closed, status, kind)
    stmt = stmt.order_by(due, col(Case.id)).offset(offset).limit(limit)
    return [QueueRow(*row) for row in session.execute(stmt).all()]


@dataclass(frozen=True)
class FactRow:
    types: list[str]
    language: str
    status: str
    received_at: datetime | date
    due: date
    closed_at: datetime | date | None


def report_rows(session: Session) -> list[FactRow]:
    """Every case, and every case deleted after ``retention.case_years`` as the anonymous
    statistic it left (local dates instead of moments): a month's figures do not change when
    its case files are purged."""
    stmt = select_columns(col(Case.types), col(Case.language), col(Case.status),
                  col(Case.received_at), effective_due_column(), col(Case.closed_at))
    gone = select_columns(col(CaseStatistic.types), col(CaseStatistic.language),
                          col(CaseStatistic.outcome), col(CaseStatistic.received_on),
                          col(CaseStatistic.due_on), col(CaseStatistic.closed_on))
    return [FactRow(*row) for query in (stmt, gone) for row in session.execute(query).all()]


def case_messages(session: Session, case_id: str) -> Sequence[InboundMessage]:
    return session.exec(select(InboundMessage).where(col(InboundMessage.case_id) == case_id)
                        .order_by(col(InboundMessage.received_at), col(InboundMessage.id))).all()


def case_message(session: Session, case_id: str, inbound_id: int) -> InboundMessage | None:
    row = session.get(InboundMessage, inbound_id)
    return row if row is not None and row.case_id == case_id else None


@dataclass(frozen=True)
class LetterRow:
    id: int
    kind: str
    recipient: str
    subject: str
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    attachments: list[str]
    bounce_status: str | None = None
    bounce_diagnostic: str | None = None


def case_letters(session: Session, case_id: str) -> list[LetterRow]:
    rows = session.exec(select(OutboundMessage).where(col(OutboundMessage.case_id) == case_id)
                        .order_by(col(OutboundMessage.id))).all()
    names: dict[int, list[str]] = {}
    ids = [r.id for r in rows if r.id is not None]
    if ids:
        stmt = (select_columns(col(OutboundAttachment.outbound_id),
                               col(OutboundAttachment.filename))
                .where(col(OutboundAttachment.outbound_id).in_(ids))
                .order_by(col(OutboundAttachment.position)))
        for out_id, filename in session.execute(stmt).all():
            names.setdefault(out_id, []).append(filename)
    return [LetterRow(r.id or 0, r.kind, r.recipient, r.subject, r.state, r.attempts,
                      r.created_at, r.sent_at, r.last_error, names.get(r.id or 0, []),
                      r.bounce_status, r.bounce_diagnostic)
            for r in rows]


def case_challenges(session: Session, case_id: str) -> Sequence[IdentityChallenge]:
    return session.exec(select(IdentityChallenge)
                        .where(col(IdentityChallenge.case_id) == case_id)
                        .order_by(col(IdentityChallenge.id))).all()


def customers(session: Session, ids: Iterable[Any]) -> list[Customer]:
    wanted = sorted({int(i) for i in ids if str(i).isdigit()})
    if not wanted:
        return []
    return list(session.exec(select(Customer).where(col(Customer.id).in_(wanted))
                             .order_by(col(Customer.id))).all())


def holds(session: Session, customer_id: int) -> Sequence[LegalHold]:
    return session.exec(select(LegalHold).where(col(LegalHold.customer_id) == customer_id)
                        .order_by(col(LegalHold.id))).all()


def unpaid_invoices(session: Session, customer_id: int) -> Sequence[Invoice]:
    """Open invoices and those in debt collection: the notice's holds on erasure."""
    return session.exec(select(Invoice).where(col(Invoice.customer_id) == customer_id)
                        .where(col(Invoice.status).in_([InvoiceStatus.OPEN.value,
                                                        InvoiceStatus.IN_COLLECTION.value]))
                        .order_by(col(Invoice.due_date))).all()


def active_staff_names(session: Session) -> list[str]:
    return list(session.exec(select(Staff.name).where(col(Staff.active).is_(True))
                             .order_by(col(Staff.name))).all())
