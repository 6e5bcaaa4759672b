"""The durable inbox: every way in stores here, and commits, before it acknowledges anything.

Why dedupe lives in the insert: an SMTP client retries after a lost ``250``, an IMAP watcher
refetches after a crash or a UIDVALIDITY change, an mbox backlog is imported twice, and one
mail arrives both over SMTP and over IMAP. The unique constraints on (Message-ID, SHA-256 of
the raw bytes) and (Message-ID, content key without trace headers, ``mailformat.trace``) make
all of these one row, also when two writers race (``INSERT ... ON CONFLICT DO NOTHING`` on
both SQLite and PostgreSQL). Mail without
a Message-ID has ``message_id = ""`` and so dedupes on its hash alone.

The pipeline claims rows in state ``received`` (:func:`claim_pending`, ``FOR UPDATE SKIP LOCKED``
on PostgreSQL so several instances share the work) and records the outcome with :func:`mark`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from mailformat import content_key, header_facts
from storage.models import ImapState, InboundMessage, InboundState
from storage.sender_window import recent_count as recent_count
from storage.sender_window import remember_recent as remember_recent

_MAX_MESSAGE_ID = 998
_MAX_ADDRESS = 320


@dataclass(frozen=True)
class ImapLocation:
    """Where the IMAP watcher found a message (UIDs mean nothing outside their UIDVALIDITY)."""

    mailbox: str
    uidvalidity: int
    uid: int


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _find(session: Session, message_id: str, sha256: str, key: str) -> InboundMessage | None:
    """The stored row this message duplicates: same bytes, or same mail via another hop."""
    same = (col(InboundMessage.sha256) == sha256) | (col(InboundMessage.content_key) == key)
    return session.exec(
        select(InboundMessage).where(col(InboundMessage.message_id) == message_id, same)
        .order_by(col(InboundMessage.id))
    ).first()


def _insert_ignoring_duplicate(session: Session, values: dict[str, Any]) -> InboundMessage | None:
    """Insert; return the new row, or None when (message_id, sha256) is already stored.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` is one statement, race-free across writers,
    and hands the row back without a second query.
    """
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = (
            insert(InboundMessage)
            .values(**values)
            .on_conflict_do_nothing()  # either unique key: same bytes, or same mail
            .returning(InboundMessage)
        )
        return session.scalars(stmt).first()
    try:  # other databases: a savepoint catches the unique-constraint race
        with session.begin_nested():
            row = InboundMessage(**values)
            session.add(row)
    except IntegrityError:
        return None
    return row


def _values(
    raw: bytes, channel: str, envelope_from: str, envelope_to: list[str],
    received_at: datetime, from_address: str | None = None,
) -> dict[str, Any]:
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    facts = header_facts(raw)
    sender = (from_address if from_address is not None else facts.from_address).lower()
    return {
        "message_id": facts.message_id[:_MAX_MESSAGE_ID],
        "sha256": content_hash(raw),
        "content_key": content_key(raw),
        "channel": channel,
        "envelope_from": envelope_from[:_MAX_ADDRESS],
        "envelope_to": [a[:_MAX_ADDRESS] for a in envelope_to],
        "raw": raw,
        "received_at": received_at.astimezone(UTC),
        "state": InboundState.RECEIVED.value,
        "reasons": [],
        "from_address": sender[:_MAX_ADDRESS],
    }


def store_inbound(
    session: Session,
    raw: bytes,
    *,
    channel: str,
    envelope_from: str,
    envelope_to: list[str],
    received_at: datetime,
    from_address: str | None = None,
    imap: ImapLocation | None = None,
    trace: bytes = b"",
) -> tuple[InboundMessage, bool]:
    """Store ``raw`` unless it is already stored; return the row and whether it is new.

    ``trace`` holds header lines our receiver writes on top (its ``Received:`` line and its own
    Authentication-Results); they are stored above ``raw`` but left out of the dedupe key, so a
    retried delivery, which gets a new trace line, is still recognised.
    The caller commits (``with db.session()``) and only then acknowledges the sender.
    ``envelope_from`` is ``"<>"`` for a null reverse path and ``""`` when unknown (IMAP, files).
    ``from_address`` may be passed when the caller already parsed the mail; otherwise the From
    header is read with a cheap header-only parse.
    """
    values = _values(raw, channel, envelope_from, envelope_to, received_at, from_address)
    values["raw"] = trace + raw
    sha = values["sha256"]
    if imap is not None:
        values.update(imap_mailbox=imap.mailbox, imap_uidvalidity=imap.uidvalidity,
                      imap_uid=imap.uid)
    row = _insert_ignoring_duplicate(session, values)
    if row is not None:
        return row, True
    existing = _find(session, values["message_id"], sha, values["content_key"])
    if existing is None:  # cannot happen: the conflicting row is committed or ours
        raise RuntimeError("duplicate inbound message vanished")
    if imap is not None and existing.imap_moved_at is None:
        # Seen again (a refetch after a UIDVALIDITY change, or a second copy): remember where
        # it is now, so a request is still moved out of the mailbox once it becomes a case.
        existing.imap_mailbox = imap.mailbox
        existing.imap_uidvalidity = imap.uidvalidity
        existing.imap_uid = imap.uid
        session.add(existing)
        session.flush()
    return existing, False


@dataclass(frozen=True)
class NewMessage:
    """One message for :func:`store_many` (a backlog batch)."""

    raw: bytes
    channel: str
    received_at: datetime
    envelope_from: str = ""
    envelope_to: tuple[str, ...] = ()


def store_many(session: Session, messages: Sequence[NewMessage]) -> list[tuple[int, bool]]:
    """Store a batch like :func:`store_inbound`; return (row id, newly stored) per message.

    Why a batch version: a backlog of thousands of mails spends most of its time in per-row
    statement overhead. One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` stores the
    new ones; one query finds the ids of those already stored. Same dedupe, same race safety.
    """
    if not messages:
        return []
    rows = [_values(m.raw, m.channel, m.envelope_from, list(m.envelope_to), m.received_at)
            for m in messages]
    table: Any = InboundMessage.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    inserted: dict[tuple[str, str], int] = {}
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = (
            insert(table)
            .on_conflict_do_nothing()
            .returning(table.c.id, table.c.message_id, table.c.sha256)
        )
        for row_id, message_id, sha in session.execute(stmt, rows):
            inserted[(message_id, sha)] = int(row_id)
    else:
        for values in rows:
            row = _insert_ignoring_duplicate(session, values)
            if row is not None and row.id is not None:
                inserted[(row.message_id, row.sha256)] = row.id
    # Not inserted: the same bytes, or the same mail over another hop, is already stored.
    missing = {v["content_key"] for v in rows if (v["message_id"], v["sha256"]) not in inserted}
    existing: dict[tuple[str, str], int] = {}
    if missing:
        found = session.execute(
            select(table.c.id, table.c.message_id, table.c.content_key).where(
                table.c.content_key.in_(sorted(missing))).order_by(table.c.id)
        )
        for i, m, k in found:
            existing.setdefault((m, k), int(i))
    results: list[tuple[int, bool]] = []
    for values in rows:
        key = (values["message_id"], values["sha256"])
        same_mail = (values["message_id"], values["content_key"])
        if key in inserted:
            results.append((inserted.pop(key), True))
            existing[same_mail] = results[-1][0]  # a second copy later in the batch
        elif same_mail in existing:
            results.append((existing[same_mail], False))
        else:  # cannot happen: the conflicting row is committed or ours
            raise RuntimeError("duplicate inbound message vanished")
    return results


def mark_many(
    session: Session, outcomes: Sequence[tuple[int, InboundState, Sequence[str]]]
) -> None:
    """Set state and reasons of freshly stored rows (replacing their empty reasons) at once."""
    if not outcomes:
        return
    table: Any = InboundMessage.__table__  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(state=bindparam("new_state"), reasons=bindparam("new_reasons"),
                processed_at=bindparam("at"))
    )
    session.connection().execute(stmt, [
        {"row_id": row_id, "new_state": InboundState(state).value,
         "new_reasons": list(reasons), "at": now}
        for row_id, state, reasons in outcomes
    ])


def pending_ids(session: Session, limit: int) -> list[int]:
    """Ids of rows still to be processed, oldest first (no lock: the caller locks each row)."""
    stmt = (
        select(InboundMessage.id)
        .where(col(InboundMessage.state) == InboundState.RECEIVED.value)
        .order_by(col(InboundMessage.id))
        .limit(limit)
    )
    return [int(i) for i in session.exec(stmt).all() if i is not None]


def claim_pending(session: Session, limit: int) -> list[InboundMessage]:
    """Rows in state ``received`` for this transaction; other instances skip them (PostgreSQL).

    On SQLite the write transaction (``BEGIN IMMEDIATE``) already excludes other writers.
    """
    stmt = (
        select(InboundMessage)
        .where(col(InboundMessage.state) == InboundState.RECEIVED.value)
        .order_by(col(InboundMessage.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.exec(stmt).all())


def mark(
    session: Session,
    row: InboundMessage,
    state: InboundState | str,
    reasons: Sequence[str] = (),
    *,
    case_id: str | None = None,
    at: datetime | None = None,
    bounce_of: int | None = None,
) -> None:
    """Record the pipeline's outcome; ``reasons`` are appended to those already on the row.
    ``bounce_of``: the letter of ours a matched bounce returns."""
    row.state = InboundState(state).value
    if bounce_of is not None:
        row.bounce_of = bounce_of
    if reasons:
        row.reasons = [*row.reasons, *reasons]
    if case_id is not None:
        row.case_id = case_id
    if row.state != InboundState.RECEIVED:
        row.processed_at = at or datetime.now(UTC)
    session.add(row)


# -- IMAP bookkeeping --------------------------------------------------------------------------


def imap_state(session: Session, account: str, mailbox: str) -> ImapState:
    """The watcher's position in ``mailbox`` (created at UIDVALIDITY 0, i.e. "never synced")."""
    stmt = select(ImapState).where(
        col(ImapState.account) == account, col(ImapState.mailbox) == mailbox
    )
    state = session.exec(stmt).first()
    if state is not None:
        return state
    try:
        with session.begin_nested():
            state = ImapState(account=account, mailbox=mailbox, uidvalidity=0, last_uid=0,
                              updated_at=datetime.now(UTC))
            session.add(state)
    except IntegrityError:
        state = session.exec(stmt).one()
    return state


def advance_imap_state(session: Session, state: ImapState, uidvalidity: int, last_uid: int) -> None:
    state.uidvalidity = uidvalidity
    state.last_uid = last_uid
    state.updated_at = datetime.now(UTC)
    session.add(state)
    session.flush()


def imap_rows_to_move(
    session: Session, mailbox: str, uidvalidity: int, limit: int = 500
) -> list[tuple[int, int]]:
    """(row id, UID) of stored IMAP messages the pipeline made part of a case, not yet moved.

    Only these leave the mailbox: info@ is also the ordinary customer-service mailbox, and mail
    that is not a request must stay where people read it.
    """
    stmt = (
        select(InboundMessage.id, InboundMessage.imap_uid)
        .where(
            col(InboundMessage.imap_mailbox) == mailbox,
            col(InboundMessage.imap_uidvalidity) == uidvalidity,
            col(InboundMessage.imap_moved_at).is_(None),
            col(InboundMessage.state) == InboundState.PROCESSED.value,
            col(InboundMessage.case_id).is_not(None),
        )
        .order_by(col(InboundMessage.id))
        .limit(limit)
    )
    return [(int(i), int(u)) for i, u in session.exec(stmt).all() if i is not None and u]


def imap_probes_to_delete(
    session: Session, mailbox: str, uidvalidity: int, limit: int = 500
) -> list[tuple[int, int]]:
    """(row id, UID) of our canary probes still in the mailbox: they are deleted, not moved
    (nobody needs them, and people must not find test mail in their mailbox)."""
    stmt = (
        select(InboundMessage.id, InboundMessage.imap_uid)
        .where(
            col(InboundMessage.imap_mailbox) == mailbox,
            col(InboundMessage.imap_uidvalidity) == uidvalidity,
            col(InboundMessage.imap_moved_at).is_(None),
            col(InboundMessage.state) == InboundState.CANARY.value,
        )
        .order_by(col(InboundMessage.id))
        .limit(limit)
    )
    return [(int(i), int(u)) for i, u in session.exec(stmt).all() if i is not None and u]


def mark_imap_moved(session: Session, row_ids: Sequence[int], at: datetime | None = None) -> None:
    if not row_ids:
        return
    session.execute(
        update(InboundMessage)
        .where(col(InboundMessage.id).in_(list(row_ids)))
        .values(imap_moved_at=at or datetime.now(UTC))
    )
