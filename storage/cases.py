"""Case rows: readable ids, creation and audited status changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from handlers.case_status import check_transition
from storage import audit
from storage.models import Case, CaseStatus, Customer


def allocate_case_id(session: Session, year: int) -> str:
    """``DSR-YYYY-NNNN``; the counter row is upserted so concurrent writers never share a number."""
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
) -> Case:
    now = datetime.now(UTC)
    case = Case(
        id=allocate_case_id(session, received_at.year),
        types=list(types), requester=requester, language=language, channel=channel,
        customer_id=customer_id, received_at=received_at, due_date=due_date,
        reasons=list(reasons or []), created_at=now, updated_at=now,
    )
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.created", case_id=case.id,
                 details={"types": case.types, "channel": channel, "due_date": str(due_date)})
    return case


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
    case.reasons = [*case.reasons, *reasons]
    session.add(case)
    session.flush()
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
