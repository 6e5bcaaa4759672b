"""The transactional outbox: letters written with the change that caused them, delivered later.

Why: a reply must go out if and only if the state change behind it committed. ``enqueue``
only adds rows to the caller's session, so the letter and the case change commit together or
not at all; a sender loop delivers committed rows afterwards. Every row gets its Message-ID
here, once, so any resend (a crash after the relay said 250 but before ``mark_sent``) carries
the same id and receivers drop the duplicate.

Claiming: ``claim_due`` picks due rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so several
instances never pick the same row; SQLite: the ``BEGIN IMMEDIATE`` write lock serialises
claimers), counts the attempt and moves ``next_attempt_at`` forward by a lease. The lease is
the claim: a sender that dies mid-delivery leaves the row to be claimed again when it expires.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, func, select

from mailformat import (
    CANARY_HEADER,
    OutAttachment,
    OutgoingMail,
    UnsafeValue,
    check_domain,
    check_recipient,
    clean_content_type,
    clean_filename,
    clean_message_ids,
    clean_subject,
    is_forwarded_mail,
    thread_headers,
)
from storage import audit, chat_outbox, rows, txmemo
from storage.models import OutboundAttachment, OutboundMessage, OutboundState

__all__ = [
    "Backoff",
    "OutAttachment",
    "OutgoingMail",
    "UnsafeValue",
    "by_message_id",
    "claim_due",
    "enqueue",
    "find_by_key",
    "load_mail",
    "mark_failed_attempt",
    "mark_sent",
    "new_message_id",
    "next_due_at",
]

#: How long a claimed row is left alone before another claim may take it (and resend it).
#: Longer than any single delivery may take (the SMTP backend times out well before this).
DEFAULT_LEASE = timedelta(minutes=5)
MAX_KIND_CHARS = 40
#: Kinds whose failure is not worth a chat message of its own.
QUIET_KINDS = frozenset({"canary"})
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits about ``base * 2**(n-1)``, at most ``cap``.

    "Equal jitter": half the delay is fixed, the other half random, so retries from many rows
    that failed together (relay down) spread out instead of arriving as one burst.
    """

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        raw = min(self.cap.total_seconds(),
                  self.base.total_seconds() * (2 ** max(0, min(attempts - 1, 40))))
        jitter = (rng or random.Random()).uniform(0, raw / 2)
        return timedelta(seconds=min(self.cap.total_seconds(), raw / 2 + jitter))


def new_message_id(domain: str, case_id: str | None) -> str:
    """``<dsrbot.DSR-2026-0001.<uuid>@domain>``: unique, ours, and names the case for staff."""
    return f"<dsrbot.{case_id or 'x'}.{uuid.uuid4().hex}@{check_domain(domain)}>"


def _strip_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL; request text quoted in a letter might.
    return text.replace("\x00", "")


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    subject: str,
    body_text: str,
    domain: str,
    body_html: str | None = None,
    case_id: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] | None = None,
    attachments: Sequence[OutAttachment] | None = None,
    actor: str = audit.BOT_ACTOR,
    now: datetime | None = None,
    dedupe_key: str | None = None,
    probe_token: str | None = None,
    inbound_id: int | None = None,
) -> OutboundMessage:
    """Add one letter to the outbox inside the caller's transaction (no commit here).

    ``dedupe_key`` makes the letter once-only (a unique column; see :func:`find_by_key`).
    ``probe_token`` marks a mailbox canary probe (``mailformat.CANARY_HEADER``).
    ``inbound_id`` names the stored mail a forward copies (it goes with that mail).

    ``domain`` is the right side of the Message-ID: the domain of
    ``settings.mail.outgoing.from_address`` (``mailformat.domain_of``).
    Raises :class:`UnsafeValue` (a ``ValueError``) when the recipient is not one valid
    address or ``kind`` is empty: such a row could never be sent, so it is never stored.
    """
    kind = kind.strip()
    if not kind or len(kind) > MAX_KIND_CHARS:
        raise UnsafeValue(f"kind must be 1 to {MAX_KIND_CHARS} characters")
    address = check_recipient(recipient)
    now = now or datetime.now(UTC)
    row = rows.build_with_defaults(OutboundMessage, dict(  # (the cheap constructor)
        id=_next_id(session),
        message_id=new_message_id(domain, case_id),
        case_id=case_id,
        kind=kind,
        recipient=address,
        subject=clean_subject(subject, case_id=case_id),
        body_text=_strip_nul(body_text),
        body_html=_strip_nul(body_html) if body_html is not None else None,
        headers={**thread_headers(in_reply_to, references),
                 **({CANARY_HEADER: probe_token} if probe_token else {})},
        state=OutboundState.PENDING.value,
        dedupe_key=dedupe_key,
        inbound_id=inbound_id,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    ))
    session.add(row)  # written with the session's next flush, in the caller's transaction
    assert row.id is not None
    if attachments:
        # No ORM relationship orders the two tables: the row goes first, for the foreign key.
        session.flush()
    for position, attachment in enumerate(attachments or ()):
        # A forwarded mail keeps its type (the composer attaches it whole, never base64).
        maintype, subtype = (("message", "rfc822") if is_forwarded_mail(attachment)
                             else clean_content_type(attachment.content_type))
        session.add(OutboundAttachment(
            outbound_id=row.id, position=position, filename=clean_filename(attachment.filename),
            content_type=f"{maintype}/{subtype}", data=bytes(attachment.data),
        ))
    if attachments:
        session.flush()
    audit.record(session, actor, "outbox.enqueued", case_id=case_id, details={
        "outbound_id": row.id, "kind": kind, "attachments": len(attachments or ()),
    })
    return row


def _next_id(session: Session) -> int:
    """The new row's id, known before it is written: the audit entry names it.

    Flushing the row to learn its id cost a flush per letter (every pending row of a batch's
    transaction, a statement each). SQLite: counted in the transaction
    (:func:`txmemo.next_row_id`); PostgreSQL: the column's sequence, as the INSERT would.
    """
    known = txmemo.next_row_id(session, OutboundMessage)
    if known is not None:
        return known
    return int(session.execute(text(
        "SELECT nextval(pg_get_serial_sequence('outboundmessage', 'id'))")).scalar_one())


def find_by_key(session: Session, dedupe_key: str) -> OutboundMessage | None:
    """The once-only letter written under ``dedupe_key``, if any."""
    return session.exec(
        select(OutboundMessage).where(col(OutboundMessage.dedupe_key) == dedupe_key)).first()


def by_message_id(session: Session, message_ids: Sequence[str]) -> list[OutboundMessage]:
    """Our letters with these Message-IDs (a bounce names the letter it returns)."""
    if not message_ids:
        return []
    return list(session.exec(select(OutboundMessage).where(
        col(OutboundMessage.message_id).in_(list(message_ids)))).all())


def _attachments_by_row(session: Session, ids: Sequence[int]) -> dict[int, list[OutAttachment]]:
    found: dict[int, list[OutAttachment]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = session.exec(
        select(OutboundAttachment)
        .where(col(OutboundAttachment.outbound_id).in_(list(ids)))
        .order_by(col(OutboundAttachment.outbound_id), col(OutboundAttachment.position))
    ).all()
    for a in rows:
        found[a.outbound_id].append(OutAttachment(a.filename, a.content_type, bytes(a.data)))
    return found


def _snapshot(row: OutboundMessage, attachments: list[OutAttachment]) -> OutgoingMail:
    assert row.id is not None
    headers = row.headers or {}
    return OutgoingMail(
        outbound_id=row.id,
        message_id=row.message_id,
        recipient=row.recipient,
        subject=row.subject,
        body_text=row.body_text,
        created_at=row.created_at,
        case_id=row.case_id,
        kind=row.kind,
        body_html=row.body_html,
        in_reply_to=headers.get("In-Reply-To"),
        references=tuple(clean_message_ids([headers.get("References", "")])),
        attachments=tuple(attachments),
        attempts=row.attempts,
        probe_token=headers.get(CANARY_HEADER),
    )


def load_mail(session: Session, outbound_id: int) -> OutgoingMail | None:
    """One row as the composer sees it (tests, previews, staff resend)."""
    row = session.get(OutboundMessage, outbound_id)
    if row is None:
        return None
    return _snapshot(row, _attachments_by_row(session, [outbound_id])[outbound_id])


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    *,
    lease: timedelta = DEFAULT_LEASE,
    max_attempts: int | None = None,
    actor: str = audit.BOT_ACTOR,
) -> list[OutgoingMail]:
    """Claim up to ``limit`` pending rows due at ``now``; commit the session to hold the claim.

    Each claimed row has its attempt counted and is leased until ``now + lease``. A due row
    that has already used ``max_attempts`` (its last sender died mid-delivery) is marked
    failed here instead of being tried for ever.
    """
    stmt = (
        select(OutboundMessage)
        .where(col(OutboundMessage.state) == OutboundState.PENDING.value)
        .where(col(OutboundMessage.next_attempt_at) <= now)
        .order_by(col(OutboundMessage.next_attempt_at), col(OutboundMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed: list[OutboundMessage] = []
    for row in session.exec(stmt).all():
        if max_attempts is not None and row.attempts >= max_attempts:
            _fail(session, row, now=now, reason="no result from the last attempt", actor=actor)
            continue
        row.attempts += 1
        row.next_attempt_at = now + lease
        session.add(row)
        claimed.append(row)
    session.flush()
    attachments = _attachments_by_row(session, [r.id for r in claimed if r.id is not None])
    return [_snapshot(r, attachments[r.id]) for r in claimed if r.id is not None]


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending row becomes due (the sender sleeps until then)."""
    value = session.exec(
        select(func.min(OutboundMessage.next_attempt_at))
        .where(col(OutboundMessage.state) == OutboundState.PENDING.value)
    ).one()
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def mark_sent(
    session: Session, outbound_id: int, *, now: datetime | None = None,
    actor: str = audit.BOT_ACTOR,
) -> bool:
    """Record delivery (audited). False when the row is gone or was already marked sent."""
    row = session.get(OutboundMessage, outbound_id, with_for_update=True)
    if row is None or row.state in (OutboundState.SENT.value, OutboundState.BOUNCED.value):
        return False
    row.state = OutboundState.SENT.value
    row.sent_at = now or datetime.now(UTC)
    row.last_error = None
    session.add(row)
    session.flush()
    audit.record(session, actor, "outbox.sent", case_id=row.case_id, details={
        "outbound_id": row.id, "kind": row.kind, "attempts": row.attempts,
    })
    return True


def _fail(session: Session, row: OutboundMessage, *, now: datetime, reason: str,
          actor: str) -> None:
    row.state = OutboundState.FAILED.value
    row.next_attempt_at = now
    session.add(row)
    session.flush()
    audit.record(session, actor, "outbox.failed", case_id=row.case_id, details={
        "outbound_id": row.id, "kind": row.kind, "attempts": row.attempts, "reason": reason,
    })
    if row.kind in QUIET_KINDS:
        return  # a lost canary probe is the canary's own incident, alerted once there
    # Staff must know a letter did not go out: a deadline may depend on it.
    chat_outbox.notify_staff(
        session, f"Letter {row.kind} (outbox #{row.id}) could not be delivered after "
        f"{row.attempts} attempt(s): {reason}. Check the address and send it another way.",
        case_id=row.case_id, now=now)


def mark_failed_attempt(
    session: Session,
    outbound_id: int,
    *,
    reason: str,
    max_attempts: int,
    error: str | None = None,
    permanent: bool = False,
    now: datetime | None = None,
    backoff: Backoff = Backoff(),
    rng: random.Random | None = None,
    actor: str = audit.BOT_ACTOR,
) -> OutboundMessage | None:
    """Record a failed delivery: retry later with backoff, or give up (state ``failed``).

    ``reason`` goes to the audit log and must hold no personal data ("smtp 451",
    "connection refused"); ``error`` is the full text for staff, kept on the row only.
    Gives up at once when ``permanent`` (a 5xx for this recipient), else after
    ``max_attempts`` attempts. Returns None when the row is gone or no longer pending.
    """
    row = session.get(OutboundMessage, outbound_id, with_for_update=True)
    if row is None or row.state != OutboundState.PENDING.value:
        return None
    now = now or datetime.now(UTC)
    row.last_error = (error or reason)[:MAX_ERROR_CHARS]
    if permanent or row.attempts >= max_attempts:
        _fail(session, row, now=now, reason=reason, actor=actor)
        return row
    delay = backoff.delay(row.attempts, rng)
    row.next_attempt_at = now + delay
    session.add(row)
    session.flush()
    audit.record(session, actor, "outbox.retry", case_id=row.case_id, details={
        "outbound_id": row.id, "attempts": row.attempts, "reason": reason,
        "retry_in_seconds": round(delay.total_seconds(), 1),
    })
    return row
