"""Identity challenge rows: create, find the open one for a case, count attempts, consume.

Only the hash of a code is stored, so a copy of the database (a backup, a support dump) cannot
be used to confirm anyone's identity. Every function works inside the caller's transaction;
:func:`latest_for_case` row-locks on PostgreSQL so two workers handling two replies at once
cannot both spend the same attempt or both confirm a single-use code.

A *held* challenge (``code_hash`` :data:`HELD`) stands for a confirmation letter held back by
the one-letter-an-hour limit. :func:`claim_held` claims them the way the inbox and the outbox
claim their rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; ``BEGIN IMMEDIATE`` serialises
writers on SQLite): the transaction that claims a customer's held challenges mails the one
letter that lists them and supersedes them in the same commit, and another instance skips them
instead of mailing the same letter again.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import IdentityChallenge

#: The code hash of a held challenge: no code exists for it, so nothing can ever match it.
HELD = ""


def create(
    session: Session,
    *,
    case_id: str,
    customer_id: int,
    code_hash: str,
    expires_at: datetime,
    max_attempts: int,
    now: datetime,
) -> tuple[IdentityChallenge, int]:
    """A new open challenge for the case; earlier open ones are closed (superseded).

    Returns the row and how many open challenges it superseded: only the newest code is ever
    valid, so a customer who received two mails cannot be confused into confirming an old one.
    """
    superseded = 0
    for old in session.exec(
        select(IdentityChallenge)
        .where(col(IdentityChallenge.case_id) == case_id)
        .where(col(IdentityChallenge.consumed_at).is_(None))
        .with_for_update()
    ).all():
        old.consumed_at = now
        session.add(old)
        superseded += 1
    row = IdentityChallenge(
        case_id=case_id, customer_id=customer_id, code_hash=code_hash, expires_at=expires_at,
        attempts=0, max_attempts=max_attempts, created_at=now,
    )
    session.add(row)
    session.flush()
    return row, superseded


def latest_for_case(session: Session, case_id: str) -> IdentityChallenge | None:
    """The case's newest challenge, whatever its state, row-locked for the caller's update."""
    return session.exec(
        select(IdentityChallenge)
        .where(col(IdentityChallenge.case_id) == case_id)
        .order_by(col(IdentityChallenge.id).desc())
        .limit(1)
        .with_for_update()
    ).first()


def newest_for_case(session: Session, case_id: str) -> IdentityChallenge | None:
    """The case's newest challenge, mailed or held, without a lock (for views)."""
    return session.exec(
        select(IdentityChallenge)
        .where(col(IdentityChallenge.case_id) == case_id)
        .order_by(col(IdentityChallenge.id).desc())
        .limit(1)
    ).first()


def count_since(session: Session, customer_id: int, since: datetime) -> int:
    """Challenges issued for one customer since ``since``: lets the caller stop a flood of
    confirmation mails to a victim's mailbox when someone keeps sending requests in their name."""
    rows = session.exec(
        select(IdentityChallenge.id)
        .where(col(IdentityChallenge.customer_id) == customer_id)
        .where(col(IdentityChallenge.created_at) >= since)
    ).all()
    return len(rows)


def record_failed_attempt(session: Session, row: IdentityChallenge) -> None:
    row.attempts += 1
    session.add(row)
    session.flush()


def consume(session: Session, row: IdentityChallenge, now: datetime) -> None:
    row.consumed_at = now
    session.add(row)
    session.flush()


def held_customer_ids(session: Session, now: datetime) -> list[int]:
    """Customers with a held challenge still open (a read: :func:`claim_held` decides)."""
    ids = session.exec(select(IdentityChallenge.customer_id)
                       .where(col(IdentityChallenge.code_hash) == HELD)
                       .where(col(IdentityChallenge.consumed_at).is_(None))
                       .where(col(IdentityChallenge.expires_at) > now)).all()
    return sorted(set(ids))


def claim_held(session: Session, customer_id: int, now: datetime) -> list[IdentityChallenge]:
    """The customer's open held challenges, claimed for this transaction; on PostgreSQL rows
    another transaction has claimed are skipped (it is mailing them), never waited for."""
    stmt = (select(IdentityChallenge)
            .where(col(IdentityChallenge.customer_id) == customer_id)
            .where(col(IdentityChallenge.code_hash) == HELD)
            .where(col(IdentityChallenge.consumed_at).is_(None))
            .where(col(IdentityChallenge.expires_at) > now)
            .order_by(col(IdentityChallenge.id)))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.exec(stmt).all())
