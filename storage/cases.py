"""Case rows: readable ids, creation and audited status changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, or_, text
from sqlmodel import Session, col, select

from storage import audit, rows, txmemo
from storage.case_status import CLOSED, check_transition
from storage.models import (
    AuditEntry,
    Case,
    CaseStatus,
    CaseThreadRef,
    Customer,
    Staff,
)


def allocate_case_id(session: Session, year: int) -> str:
    """``DSR-YYYY-NNNN``; the counter row is upserted so concurrent writers never share a number."""
    # No flush first: the counter is written by this statement only, so what the session
    # holds pending (a batch's rows so far) is written later, together.
    with session.no_autoflush:
        last = session.execute(
            text(
                "INSERT INTO casecounter (year, last) VALUES (:y, 1) "
                "ON CONFLICT (year) DO UPDATE SET last = casecounter.last + 1 RETURNING last"
            ),
            {"y": year},
        ).scalar_one()
    return f"DSR-{year}-{last:04d}"


def create_case(
    session: Session,
    *,
    types: list[str],
    requester: str,
    language: str,
    received_at: datetime,
    due_date: date,
    channel: str = "email",
    customer_id: int | None = None,
    reasons: list[str] | None = None,
    actor: str = audit.BOT_ACTOR,
    case_year: int | None = None,
) -> Case:
    """``case_year`` numbers the id (default: the UTC year of receipt; pass the local one)."""
    now = datetime.now(UTC)
    # Built without the constructor's per-field pydantic assignment (~1 ms a case, one case
    # per request mail in a batch); the list and dict fields are given, never shared.
    case = rows.build_with_defaults(Case, dict(
        id=allocate_case_id(session, case_year or received_at.year),
        types=list(types), requester=requester, language=language, channel=channel,
        customer_id=customer_id, received_at=received_at, due_date=due_date,
        reasons=list(reasons or []), created_at=now, updated_at=now,
        details={}, applied_at_once=[], thread_message_ids=[],
    ))
    session.add(case)  # written by the next flush (the unit of work orders the inserts)
    # Nobody else sees a row this transaction inserted: it counts as locked until commit.
    txmemo.memo(session, "locked_cases")[case.id] = True
    txmemo.memo(session, "created_cases")[case.id] = case
    audit.record(session, actor, "case.created", case_id=case.id,
                 details={"types": case.types, "channel": channel, "due_date": str(due_date)})
    return case


def case_by_id(session: Session, case_id: str) -> Case | None:
    """One case by id, without a query when this transaction created it: a new case is not
    in the session's identity map until flushed, so ``session.get`` would flush everything
    pending (a batch's rows so far) and read it back."""
    created = txmemo.memo(session, "created_cases").get(case_id)
    return created if created is not None else session.get(Case, case_id)


def transition(
    session: Session, case: Case, new_status: CaseStatus, *, actor: str, reasons: list[str]
) -> None:
    """Change status if allowed (raises TransitionError otherwise), audited with its reasons."""
    check_transition(case.status, new_status)
    old = case.status
    case.status = new_status.value
    case.updated_at = datetime.now(UTC)
    if new_status in (CaseStatus.DONE, CaseStatus.REFUSED, CaseStatus.WITHDRAWN):
        case.closed_at = case.updated_at
    elif new_status not in CLOSED:  # reopened (delivery_failed): open, with reminders again
        case.closed_at = None
    case.reasons = [*case.reasons, *reasons]
    session.add(case)
    audit.record(session, actor, "case.status", case_id=case.id,
                 details={"from": old, "to": new_status.value, "reasons": reasons})


def list_cases(session: Session) -> Sequence[tuple[Case, str | None]]:
    """Every case with its customer number (None when not matched), oldest first."""
    stmt = (
        select(Case, Customer.customer_number)
        .join(Customer, col(Case.customer_id) == col(Customer.id), isouter=True)
        .order_by(col(Case.received_at), col(Case.id))
    )
    return session.exec(stmt).all()


def get_case(session: Session, case_id: str, *, for_update: bool = False) -> Case | None:
    """One case by id; ``for_update`` row-locks it (PostgreSQL) so a double tap acts once."""
    stmt = select(Case).where(col(Case.id) == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def lock_case(session: Session, case: Case) -> None:
    """Re-read ``case`` under a row lock before a decision (SQLite: BEGIN IMMEDIATE does it).

    Pending changes are flushed first so the re-read does not discard them. On PostgreSQL the
    audit chain's lock is taken before the row lock: every decision appends to the chain, so
    taking the two locks always in that order means a transaction that audited something before
    deciding cannot deadlock with a decision on the same case.

    Once per transaction: a case it created or already locked is held until it ends (a
    batch's savepoint that rolls back forgets what it locked, see :mod:`storage.txmemo`).
    """
    locked = txmemo.memo(session, "locked_cases")
    if case.id in locked:
        return
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit._PG_AUDIT_LOCK})
    session.refresh(case, with_for_update=True)
    locked[case.id] = True


def add_thread_ref(session: Session, case: Case, message_id: str) -> bool:
    """Record ``message_id`` in the case's thread; False when it was already there."""
    if message_id in case.thread_message_ids:
        return False
    case.thread_message_ids = [*case.thread_message_ids, message_id]
    case.updated_at = datetime.now(UTC)
    session.add(case)
    session.add(rows.build(CaseThreadRef, {"id": txmemo.next_row_id(session, CaseThreadRef),
                                           "case_id": case.id, "message_id": message_id}))
    return True


def cases_by_thread_ids(
    session: Session, message_ids: Sequence[str]
) -> list[tuple[str, Case]]:
    """``(message_id, case)`` for every case whose thread holds one of ``message_ids``.

    Oldest case first for the same id: a Message-ID belongs to the case that recorded it first,
    so a later mail that reuses someone's Message-ID cannot pull their replies into its case.
    """
    if not message_ids:
        return []
    stmt = (
        select(CaseThreadRef.message_id, Case)
        .join(Case, col(CaseThreadRef.case_id) == col(Case.id))
        .where(col(CaseThreadRef.message_id).in_(list(message_ids)))
        .order_by(col(Case.created_at), col(Case.id))
    )
    return [(mid, case) for mid, case in session.exec(stmt).all()]


def link_inbound(session: Session, inbound_id: int, case_id: str) -> bool:
    """Point a stored inbound message at its case; False when no such message exists."""
    from storage.models import InboundMessage  # the mail tables: `dsrbot cases` needs none

    message = session.get(InboundMessage, inbound_id)
    if message is None:
        return False
    message.case_id = case_id
    session.add(message)
    return True


def staff_by_name(session: Session, name: str) -> Staff | None:
    return session.exec(select(Staff).where(col(Staff.name) == name)).first()


def effective_due_column() -> Any:
    """SQL for the due date that applies: the extended one when set."""
    return func.coalesce(col(Case.extended_due_date), col(Case.due_date))


def _open_cases_stmt() -> Any:
    return (
        select(Case)
        .where(col(Case.status).not_in([s.value for s in CLOSED]))
        .order_by(effective_due_column(), col(Case.id))
    )


def open_cases(session: Session) -> list[Case]:
    """Cases not yet closed, the soonest due first."""
    return list(session.exec(_open_cases_stmt()).all())


def open_cases_due_between(session: Session, first: date, last: date) -> list[Case]:
    """Open cases whose applicable due date is in ``first..last`` (both included)."""
    due = effective_due_column()
    return list(session.exec(_open_cases_stmt().where(due >= first, due <= last)).all())


def open_cases_due_before(session: Session, day: date) -> list[Case]:
    """Open cases whose applicable due date is before ``day``."""
    return list(session.exec(_open_cases_stmt().where(effective_due_column() < day)).all())


def case_audit_trail(session: Session, case_id: str) -> list[AuditEntry]:
    """Every audit entry about one case, in order."""
    stmt = select(AuditEntry).where(col(AuditEntry.case_id) == case_id).order_by(
        col(AuditEntry.id))
    return list(session.exec(stmt).all())


def cases_to_finish(session: Session) -> list[str]:
    """Decided cases whose follow-up is owed, in one query on ``ix_case_sweep``: approved ones
    not yet carried out (unless that failed), refused ones whose letter has not gone out."""
    approved = (col(Case.status) == CaseStatus.APPROVED.value) & ~col(Case.execution_failed)
    refused = ((col(Case.status) == CaseStatus.REFUSED.value) & ~col(Case.refusal_letter_sent)
               & col(Case.closed_at).is_not(None))
    stmt = select(Case.id).where(or_(approved, refused)).order_by(col(Case.id))
    return list(session.exec(stmt).all())


def extension_notices_owed(session: Session) -> list[Case]:
    """Extended cases whose notice to the requester is not in the outbox yet."""
    stmt = _open_cases_stmt().where(col(Case.extension_notice_pending))
    return list(session.exec(stmt).all())
