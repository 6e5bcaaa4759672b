"""The staff chat's outbox: which cases the chat must (re)show, and which message shows each.

Why an outbox and not a direct call: a case change must never wait for, or fail with,
Telegram. A ``ChatNotification`` row is written in the transaction of the change that caused
it (or found by :func:`enqueue_stale_cases`, see below), and a delivery loop sends it later
with retry. A chat outage only delays messages; cases and deadlines go on.

Why state, not events: a case notification says "show case X as it is now". Delivery renders
the case at delivery time, so several rows for one case collapse into one send or edit, a late
delivery is never stale, and a lost edit is repaired by the next one.

Why a sweep as well: cases are opened and decided in many places (the mail pipeline, the
console, the scheduler) that need not know the chat exists. :func:`enqueue_stale_cases` finds
open cases the chat has not shown yet and shown cases changed since (``Case.updated_at`` newer
than the message's ``synced_at``), and writes their rows. The case row itself is the durable
record of the change, so nothing is lost between the change and the sweep.

One deliverer at a time is assumed (Telegram lets only one poller use a token); the lease on
claimed rows still keeps a crashed deliverer's rows from being lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from storage.case_status import CLOSED
from storage.models import Case, ChatCaseMessage, ChatNotification, ChatNotificationState

KIND_CASE = "case"
log = logging.getLogger(__name__)
KIND_TEXT = "text"
DEFAULT_LEASE = timedelta(minutes=2)
MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class Claimed:
    """A claimed row, plus the other pending rows for the same case it stands for."""

    id: int
    kind: str
    case_id: str | None
    payload: dict[str, Any]
    attempts: int
    covers: tuple[int, ...]


def enqueue(
    session: Session,
    *,
    kind: str = KIND_CASE,
    case_id: str | None = None,
    payload: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> ChatNotification:
    """Add a row in the caller's transaction (no commit here). Payload: ids and reasons only."""
    now = now or datetime.now(UTC)
    row = ChatNotification(kind=kind, case_id=case_id, payload=dict(payload or {}),
                           state=ChatNotificationState.PENDING.value, attempts=0,
                           next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    return row


def notify_staff(session: Session, text: str, *, case_id: str | None = None,
                 now: datetime | None = None, **payload: object) -> ChatNotification:
    """A plain-text message to the staff chat (delivered by the chat's notifier), and a log
    line for the console backend. ``text`` holds no personal data: ids, dates, states."""
    row = enqueue(session, kind=KIND_TEXT, case_id=case_id, payload={"text": text, **payload},
                  now=now)
    log.info("staff notice: %s", text.replace("\n", " | "))
    return row


def enqueue_stale_cases(
    session: Session, chat_id: int, *, now: datetime | None = None, limit: int = 200
) -> list[str]:
    """Write rows for cases the chat shows out of date (or not at all); return their ids.

    Skipped: cases with a pending row already, and cases whose sweep row for this very version
    of the case (its ``updated_at``) gave up, so a message Telegram refuses for good is not
    retried for ever; the case's next change tries again.
    """
    now = now or datetime.now(UTC)
    closed = [s.value for s in CLOSED]
    stmt = (
        select(Case.id, Case.updated_at)
        .join(ChatCaseMessage, and_(col(ChatCaseMessage.case_id) == col(Case.id),
                                    col(ChatCaseMessage.chat_id) == chat_id), isouter=True)
        .where(or_(
            and_(col(ChatCaseMessage.id).is_(None), col(Case.status).not_in(closed)),
            col(Case.updated_at) > col(ChatCaseMessage.synced_at),
        ))
        .order_by(col(Case.updated_at))
        .limit(limit)
    )
    stale = {case_id: updated for case_id, updated in session.exec(stmt).all()}
    if not stale:
        return []
    blocking = session.exec(
        select(ChatNotification.case_id, ChatNotification.state, ChatNotification.payload)
        .where(col(ChatNotification.case_id).in_(list(stale)))
        .where(col(ChatNotification.state).in_([ChatNotificationState.PENDING.value,
                                                ChatNotificationState.FAILED.value]))
    ).all()
    skip = {cid for cid, state, payload in blocking
            if cid is not None and (state == ChatNotificationState.PENDING.value
                                    or (payload or {}).get("version") == _version(stale[cid]))}
    added = [cid for cid in stale if cid not in skip]
    for cid in added:
        enqueue(session, kind=KIND_CASE, case_id=cid, now=now,
                payload={"source": "sweep", "version": _version(stale[cid])})
    return added


def claim_due(
    session: Session, now: datetime, limit: int, *, lease: timedelta = DEFAULT_LEASE
) -> list[Claimed]:
    """Claim due rows (one per case), leasing them until ``now + lease``; commit to hold it."""
    stmt = (
        select(ChatNotification)
        .where(col(ChatNotification.state) == ChatNotificationState.PENDING.value)
        .where(col(ChatNotification.next_attempt_at) <= now)
        .order_by(col(ChatNotification.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(session.exec(stmt).all())
    groups: dict[tuple[str, str], list[ChatNotification]] = {}
    for row in rows:
        same_case = row.kind == KIND_CASE and row.case_id is not None
        key = ("case", row.case_id or "") if same_case else ("row", str(row.id))
        groups.setdefault(key, []).append(row)
        row.attempts += 1
        row.next_attempt_at = now + lease
        session.add(row)
    session.flush()
    return [
        Claimed(first.id or 0, first.kind, first.case_id, dict(first.payload), first.attempts,
                tuple(r.id or 0 for r in rest))
        for first, *rest in groups.values()
    ]


def message_for(session: Session, case_id: str, chat_id: int) -> ChatCaseMessage | None:
    return session.exec(
        select(ChatCaseMessage).where(col(ChatCaseMessage.case_id) == case_id,
                                      col(ChatCaseMessage.chat_id) == chat_id)
    ).first()


def mark_sent(
    session: Session,
    claimed: Claimed,
    *,
    now: datetime,
    chat_id: int,
    message_id: int,
    synced_at: datetime | None = None,
) -> None:
    """Record the delivery, and for a case which message shows it and as of which change."""
    for row_id in (claimed.id, *claimed.covers):
        row = session.get(ChatNotification, row_id)
        if row is None or row.state != ChatNotificationState.PENDING.value:
            continue
        row.state = ChatNotificationState.SENT.value
        row.sent_at = now
        row.telegram_message_id = message_id
        row.last_error = None
        session.add(row)
    if claimed.case_id is not None and claimed.kind == KIND_CASE:
        link = message_for(session, claimed.case_id, chat_id)
        if link is None:
            link = ChatCaseMessage(case_id=claimed.case_id, chat_id=chat_id,
                                   message_id=message_id, synced_at=synced_at or now)
        else:
            link.message_id = message_id
            if synced_at is not None:
                link.synced_at = synced_at
        session.add(link)
    session.flush()


def mark_failed_attempt(
    session: Session, claimed: Claimed, *, error: str, retry_at: datetime | None
) -> None:
    """Schedule the next attempt at ``retry_at``, or give up (``failed``) when it is None."""
    for row_id in (claimed.id, *claimed.covers):
        row = session.get(ChatNotification, row_id)
        if row is None or row.state != ChatNotificationState.PENDING.value:
            continue
        row.last_error = error[:MAX_ERROR_CHARS]
        if retry_at is None:
            row.state = ChatNotificationState.FAILED.value
        else:
            row.next_attempt_at = retry_at
        session.add(row)
    session.flush()


def pending_count(session: Session) -> int:
    return len(session.exec(
        select(ChatNotification.id)
        .where(col(ChatNotification.state) == ChatNotificationState.PENDING.value)
    ).all())


def notifications_for(session: Session, case_id: str) -> Sequence[ChatNotification]:
    return session.exec(
        select(ChatNotification).where(col(ChatNotification.case_id) == case_id)
        .order_by(col(ChatNotification.id))
    ).all()


def _version(updated_at: datetime) -> str:
    aware = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()
