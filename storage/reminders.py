"""What the scheduler has done, claimed insert-first so nothing is done twice.

Why insert-first: the claim row and the action it stands for (a chat notification, a letter,
a status change, an audit entry) are written in ONE transaction. ``INSERT ... ON CONFLICT DO
NOTHING RETURNING id`` either takes the key or finds it taken:

* PostgreSQL: a second instance inserting the same key waits on the unique index until the
  first commits (then it gets nothing and skips) or rolls back (then it takes the key itself).
  No advisory lock, no lease to expire, and a crash mid-action leaves no claim behind.
* SQLite: ``BEGIN IMMEDIATE`` (see :mod:`storage.db`) serialises writers; the unique key does
  the rest.

So a tick repeated after a restart, or run by two instances at once, acts exactly once.
Callers keep one claim per transaction: a transaction that held several claims while waiting
for the audit chain's advisory lock could deadlock with another doing the same in a
different order.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from storage.models import (
    Case,
    CaseStatus,
    Customer,
    IdentityChallenge,
    OutboundMessage,
    SentReminder,
)

#: Subject of things done for the staff as a whole (the digest).
STAFF = "staff"


def instance_name() -> str:
    """``host:pid``: which process did something, for operators reading the table."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


def challenge_subject(challenge_id: int) -> str:
    return f"challenge:{challenge_id}"


def customer_subject(customer_id: int) -> str:
    return f"customer:{customer_id}"


def claim(
    session: Session,
    *,
    kind: str,
    subject: str,
    due_on: date,
    now: datetime,
    case_id: str | None = None,
    instance: str = "",
) -> bool:
    """Take the key ``(kind, subject, due_on)`` in the caller's transaction.

    True: this transaction owns it and must do the action now (both commit together).
    False: it was done already (or is being done by a transaction that will commit it).
    """
    values: dict[str, Any] = {
        "kind": kind[:40], "subject": subject[:64], "due_on": due_on, "case_id": case_id,
        "done_at": now, "instance": (instance or instance_name())[:100],
    }
    dialect = session.get_bind().dialect.name
    table = SentReminder.__table__  # type: ignore[attr-defined]
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(**values)
    else:
        stmt = sqlite.insert(table).values(**values)
    stmt = stmt.on_conflict_do_nothing(
        index_elements=["kind", "subject", "due_on"]).returning(table.c.id)
    return session.execute(stmt).first() is not None



def claimed(session: Session, kinds: Sequence[str], since: date) -> set[tuple[str, str, date]]:
    """Keys of ``kinds`` already taken with ``due_on >= since``: one query that lets a job skip
    what is done instead of opening a transaction per item just to find its key taken.
    (A read, not a decision: :func:`claim` still decides.)"""
    rows = session.exec(
        select(col(SentReminder.kind), col(SentReminder.subject), col(SentReminder.due_on))
        .where(col(SentReminder.kind).in_(list(kinds)), col(SentReminder.due_on) >= since)
    ).all()
    return {(k, subj, d) for k, subj, d in rows}

def last_done(session: Session, *, kind: str, subject: str = STAFF,
              before: date | None = None) -> SentReminder | None:
    """The latest row of ``kind`` for ``subject`` (e.g. the previous digest)."""
    stmt = select(SentReminder).where(col(SentReminder.kind) == kind,
                                      col(SentReminder.subject) == subject)
    if before is not None:
        stmt = stmt.where(col(SentReminder.due_on) < before)
    return session.exec(stmt.order_by(col(SentReminder.due_on).desc()).limit(1)).first()


def done_since(session: Session, kind: str, since: datetime) -> list[SentReminder]:
    """Rows of ``kind`` done at or after ``since`` (the tick's moment), oldest first."""
    return list(session.exec(
        select(SentReminder).where(col(SentReminder.kind) == kind,
                                   col(SentReminder.done_at) >= since)
        .order_by(col(SentReminder.done_at), col(SentReminder.id))
    ).all())


def customer_numbers(session: Session, customer_ids: list[int]) -> list[str]:
    """Customer numbers for ids, in the order given (unknown ids left out)."""
    if not customer_ids:
        return []
    found = dict(session.exec(
        select(Customer.id, Customer.customer_number).where(col(Customer.id).in_(customer_ids))
    ).all())
    return [found[i] for i in customer_ids if i in found]


def open_challenges(session: Session) -> list[tuple[Case, IdentityChallenge]]:
    """The newest unused challenge of each case awaiting identity, with its case."""
    rows = session.exec(
        select(Case, IdentityChallenge)
        .join(IdentityChallenge, col(Case.id) == col(IdentityChallenge.case_id))
        .where(col(Case.status) == CaseStatus.AWAITING_IDENTITY.value,
               col(IdentityChallenge.consumed_at).is_(None))
        .order_by(col(IdentityChallenge.case_id), col(IdentityChallenge.id))
    ).all()
    newest: dict[str, tuple[Case, IdentityChallenge]] = {}
    for case, challenge in rows:
        newest[case.id] = (case, challenge)
    return list(newest.values())


def latest_letter(session: Session, case_id: str, kind: str) -> OutboundMessage | None:
    """The newest outbound letter of ``kind`` for a case (to thread a reminder to it)."""
    return session.exec(
        select(OutboundMessage).where(col(OutboundMessage.case_id) == case_id,
                                      col(OutboundMessage.kind) == kind)
        .order_by(col(OutboundMessage.id).desc()).limit(1)
    ).first()


def retention_candidates(
    session: Session, ended_before: date, *, after_id: int = 0, limit: int = 500
) -> list[int]:
    """Ids of customers not anonymised whose relationship ended before ``ended_before``,
    in id order from ``after_id`` (keyset paging: held customers never starve the rest)."""
    return [i for i in session.exec(
        select(Customer.id)
        .where(col(Customer.anonymised_at).is_(None),
               col(Customer.relationship_end).is_not(None),
               col(Customer.relationship_end) < ended_before,
               col(Customer.id) > after_id)
        .order_by(col(Customer.id)).limit(limit)
    ).all() if i is not None]


def lock_customer(session: Session, customer_id: int) -> Customer | None:
    """One customer, row-locked on PostgreSQL for the caller's change."""
    return session.exec(
        select(Customer).where(col(Customer.id) == customer_id).with_for_update()
    ).first()


def retention_pending_count(session: Session, ended_before: date) -> int:
    """How many customers not anonymised ended their relationship before ``ended_before``."""
    return int(session.exec(
        select(func.count()).select_from(Customer)
        .where(col(Customer.anonymised_at).is_(None),
               col(Customer.relationship_end).is_not(None),
               col(Customer.relationship_end) < ended_before)
    ).one())
