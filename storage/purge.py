"""Emptying and deleting dsrbot's own copies: stored mail, outbox files, whole case files.

Why the rows of purged mail stay: deduplication needs the key (Message-ID, SHA-256) for as long
as a relay or an IMAP refetch may bring the same mail again, and the statistics count mail by
state and day. Everything else in the row (raw bytes, addresses, reasons) goes, so the row
holds nothing personal beyond a Message-ID.

Which rows are due, and when, is the domain's decision (``handlers/retention``); this module
only knows the tables. Every function works in the caller's transaction. After a purge,
:func:`storage.reclaim.reclaim_space` makes deleted bytes leave the database files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, update
from sqlmodel import Session, col, select

from storage import mail_copies
from storage.case_status import CLOSED
from storage.models import (
    Case,
    CaseStatistic,
    CaseThreadRef,
    ChatCaseMessage,
    ChatNotification,
    FieldChange,
    IdentityChallenge,
    InboundMessage,
    InboundState,
    OutboundAttachment,
    OutboundMessage,
    OutboundState,
    UsedSignature,
)

#: Inbound states that still wait for someone (the pipeline, or staff): never purged.
WAITING_STATES = (InboundState.RECEIVED.value, InboundState.HELD.value)
_CLOSED = tuple(s.value for s in CLOSED)
#: Case details that copy what the person wrote (entities found in the mail, its subject).
_TEXT_DETAILS = ("extracted", "entities", "subject")


# --- stored inbound mail ---------------------------------------------------------------------


def _other_mail(cutoff: datetime) -> Any:
    return (col(InboundMessage.case_id).is_(None),
            col(InboundMessage.state).not_in(WAITING_STATES),
            col(InboundMessage.purged_at).is_(None),
            col(InboundMessage.received_at) < cutoff)


def other_mail_due(session: Session, cutoff: datetime, limit: int,
                   after_id: int = 0) -> list[int]:
    """Mail in no case, handled (ignored, left for people, quarantined), that came before
    ``cutoff`` and still has its bytes; ids above ``after_id`` (keyset paging: a batch never
    rescans the rows the batches before it emptied)."""
    stmt = (select(InboundMessage.id)
            .where(*_other_mail(cutoff), col(InboundMessage.id) > after_id)
            .order_by(col(InboundMessage.id)).limit(limit))
    return [i for i in session.exec(stmt).all() if i is not None]


def count_other_mail_due(session: Session, cutoff: datetime) -> int:
    stmt = select(func.count()).select_from(InboundMessage).where(*_other_mail(cutoff))
    return int(session.exec(stmt).one())


def purge_inbound(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Empty these rows down to the dedupe key, dates and state. Returns rows emptied."""
    if not ids:
        return 0
    result = session.execute(
        update(InboundMessage)
        .where(col(InboundMessage.id).in_(list(ids)), col(InboundMessage.purged_at).is_(None))
        .values(raw=b"", envelope_from="", envelope_to=[], from_address="", reasons=[],
                purged_at=now)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def inbound_of_cases(session: Session, case_ids: Sequence[str]) -> list[int]:
    if not case_ids:
        return []
    stmt = select(InboundMessage.id).where(col(InboundMessage.case_id).in_(list(case_ids)),
                                           col(InboundMessage.state).not_in(WAITING_STATES),
                                           col(InboundMessage.purged_at).is_(None))
    return [i for i in session.exec(stmt).all() if i is not None]


def inbound_from(session: Session, address: str) -> list[int]:
    """Stored mail from this (normalised) address, in a case or not, not yet purged. Mail
    still waiting for the pipeline or for staff is left: it may be a new request."""
    if not address:
        return []
    stmt = select(InboundMessage.id).where(col(InboundMessage.from_address) == address,
                                           col(InboundMessage.state).not_in(WAITING_STATES),
                                           col(InboundMessage.purged_at).is_(None))
    return [i for i in session.exec(stmt).all() if i is not None]


# --- outbox attachments ----------------------------------------------------------------------


def _delivered_files(cutoff: datetime) -> Any:
    return (col(OutboundAttachment.outbound_id) == col(OutboundMessage.id),
            col(OutboundMessage.sent_at).is_not(None),
            col(OutboundMessage.sent_at) < cutoff,
            col(OutboundAttachment.purged_at).is_(None))


def attachments_due(session: Session, cutoff: datetime, limit: int,
                    after_id: int = 0) -> list[int]:
    """Files of letters delivered before ``cutoff`` that still hold their bytes (ids above
    ``after_id``)."""
    stmt = (select(OutboundAttachment.id)
            .where(*_delivered_files(cutoff), col(OutboundAttachment.id) > after_id)
            .order_by(col(OutboundAttachment.id)).limit(limit))
    return [i for i in session.exec(stmt).all() if i is not None]


def count_attachments_due(session: Session, cutoff: datetime) -> int:
    stmt = (select(func.count()).select_from(OutboundAttachment).join(
        OutboundMessage, col(OutboundAttachment.outbound_id) == col(OutboundMessage.id))
        .where(*_delivered_files(cutoff)))
    return int(session.exec(stmt).one())


def purge_attachments(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Empty these files (the name stays, so the case still shows what was sent)."""
    if not ids:
        return 0
    result = session.execute(
        update(OutboundAttachment)
        .where(col(OutboundAttachment.id).in_(list(ids)),
               col(OutboundAttachment.purged_at).is_(None))
        .values(data=b"", purged_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def attachments_of_cases(session: Session, case_ids: Sequence[str]) -> list[int]:
    """Files of these cases' letters that were delivered (a pending letter keeps its file)."""
    if not case_ids:
        return []
    stmt = (select(OutboundAttachment.id)
            .join(OutboundMessage, col(OutboundAttachment.outbound_id) == col(OutboundMessage.id))
            .where(col(OutboundMessage.case_id).in_(list(case_ids)),
                   col(OutboundMessage.state) != OutboundState.PENDING.value,
                   col(OutboundAttachment.purged_at).is_(None)))
    return [i for i in session.exec(stmt).all() if i is not None]


# --- redacting and deleting case files -------------------------------------------------------


@dataclass(frozen=True)
class CaseFileCounts:
    """What one case file lost: mails emptied, letters, files, chat rows, identity evidence."""

    mails: int = 0
    letters: int = 0
    attachments: int = 0
    chat: int = 0
    challenges: int = 0


def redact_letters(session: Session, case_ids: Sequence[str]) -> int:
    """Letters of these cases that left the outbox lose their text and address (and a
    bounce's diagnostic, which quotes it); the kind, subject line (a case reference), the
    bounce status and dates stay. A pending letter is still to be sent."""
    if not case_ids:
        return 0
    result = session.execute(
        update(OutboundMessage)
        .where(col(OutboundMessage.case_id).in_(list(case_ids)),
               col(OutboundMessage.state) != OutboundState.PENDING.value,
               or_(col(OutboundMessage.recipient) != "", col(OutboundMessage.body_text) != "",
                   col(OutboundMessage.bounce_diagnostic).is_not(None)))
        .values(recipient="", body_text="", body_html=None, last_error=None,
                bounce_diagnostic=None)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_letter_addresses(session: Session, case_ids: Sequence[str],
                            data_kinds: Sequence[str]) -> int:
    """Letters of these cases that left the outbox lose their address (and a bounce's
    diagnostic, which quotes it); those of ``data_kinds`` (which copy register data) lose
    their text too. The rest keep their text."""
    if not case_ids:
        return 0
    done = (col(OutboundMessage.case_id).in_(list(case_ids)),
            col(OutboundMessage.state) != OutboundState.PENDING.value)
    data = session.execute(
        update(OutboundMessage)
        .where(*done, col(OutboundMessage.kind).in_(list(data_kinds)),
               col(OutboundMessage.body_text) != "")
        .values(recipient="", body_text="", body_html=None, bounce_diagnostic=None)
        .execution_options(synchronize_session=False))
    rest = session.execute(
        update(OutboundMessage).where(*done, or_(col(OutboundMessage.recipient) != "",
                                                 col(OutboundMessage.bounce_diagnostic).is_not(None)))
        .values(recipient="", bounce_diagnostic=None).execution_options(synchronize_session=False))
    return int(getattr(data, "rowcount", 0) or 0) + int(getattr(rest, "rowcount", 0) or 0)


def redacted_cases_with_addresses(session: Session, limit: int) -> list[str]:
    """Cases whose text was forgotten (an erasure) with letters delivered since that still
    carry an address: the erasure's own confirmation, sent after the erasure."""
    stmt = (select(OutboundMessage.case_id).join(Case, col(Case.id) == col(OutboundMessage.case_id))
            .where(col(Case.requester) == "",
                   col(OutboundMessage.state) != OutboundState.PENDING.value,
                   col(OutboundMessage.recipient) != "")
            .distinct().limit(limit))
    return [c for c in session.exec(stmt).all() if c is not None]


def delete_chat_rows(session: Session, case_ids: Sequence[str]) -> int:
    """The staff chat's notifications of these (closed) cases: the chat shows the case as it
    is when it delivers, so a closed case's old rows are no longer needed."""
    if not case_ids:
        return 0
    result = session.execute(delete(ChatNotification)
                             .where(col(ChatNotification.case_id).in_(list(case_ids)))
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def delete_challenges(session: Session, *, case_ids: Sequence[str] = (),
                      customer_id: int | None = None) -> int:
    """Identity evidence: the confirmation codes' hashes, their attempts and dates."""
    conditions: list[ColumnElement[bool]] = []
    if case_ids:
        conditions.append(col(IdentityChallenge.case_id).in_(list(case_ids)))
    if customer_id is not None:
        conditions.append(col(IdentityChallenge.customer_id) == customer_id)
    if not conditions:
        return 0
    result = session.execute(delete(IdentityChallenge).where(or_(*conditions))
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_case_text(case: Case) -> None:
    """The case keeps dates, types, status, decisions and reasons; the requester's address and
    what the mail said (extracted entities) go."""
    case.requester = ""
    case.details = {k: v for k, v in case.details.items() if k not in _TEXT_DETAILS}


def closed_cases_of(session: Session, customer_id: int, address: str,
                    exclude: str) -> list[Case]:
    """Closed cases of this customer, or from this address, other than ``exclude``."""
    who = [col(Case.customer_id) == customer_id]
    if address:
        who.append(func.lower(col(Case.requester)) == address)
    stmt = (select(Case).where(or_(*who), col(Case.id) != exclude,
                               col(Case.status).in_(_CLOSED)).order_by(col(Case.id)))
    return list(session.exec(stmt).all())


def cases_due(session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Closed cases whose close lies before ``cutoff``."""
    stmt = (select(Case.id).where(col(Case.status).in_(_CLOSED),
                                  col(Case.closed_at).is_not(None), col(Case.closed_at) < cutoff)
            .order_by(col(Case.closed_at), col(Case.id)).limit(limit))
    return list(session.exec(stmt).all())


def count_cases_due(session: Session, cutoff: datetime) -> int:
    stmt = select(func.count()).select_from(Case).where(
        col(Case.status).in_(_CLOSED), col(Case.closed_at).is_not(None),
        col(Case.closed_at) < cutoff)
    return int(session.exec(stmt).one())


def record_statistic(session: Session, case: Case, now: datetime,
                     days: tuple[date, date | None] | None = None) -> CaseStatistic:
    """The anonymous row the desk's report reads once the case is gone. ``days``: the dates
    of receipt and close in the organisation's timezone (the report's days); else UTC's."""
    received_on, closed_on = days or (
        case.received_at.date(), case.closed_at.date() if case.closed_at else None)
    row = CaseStatistic(types=list(case.types), language=case.language, channel=case.channel,
                        outcome=case.status, received_on=received_on,
                        due_on=case.extended_due_date or case.due_date, closed_on=closed_on,
                        extended=case.extended, deleted_at=now)
    session.add(row)
    return row


def delete_case_file(session: Session, case: Case, now: datetime,
                     days: tuple[date, date | None] | None = None) -> CaseFileCounts:
    """Delete the case and everything filed under it; its mails keep only their dedupe key.

    The anonymous statistic is written first, in the same transaction. Audit entries and the
    scheduler's claims name the case id only and stay.
    """
    ids = [case.id]
    record_statistic(session, case, now, days)
    mails = inbound_of_cases(session, ids)
    emptied = purge_inbound(session, mails, now)
    session.execute(update(InboundMessage).where(col(InboundMessage.case_id) == case.id)
                    .values(case_id=None).execution_options(synchronize_session=False))
    letters = select(OutboundMessage.id).where(col(OutboundMessage.case_id) == case.id)
    returned = mail_copies.letters_of_cases(session, ids)
    emptied += purge_inbound(session, mail_copies.bounces_of(session, returned), now)
    mail_copies.unlink_bounces(session, returned)
    files = session.execute(delete(OutboundAttachment)
                            .where(col(OutboundAttachment.outbound_id).in_(letters))
                            .execution_options(synchronize_session=False))
    gone = session.execute(delete(OutboundMessage).where(col(OutboundMessage.case_id) == case.id)
                           .execution_options(synchronize_session=False))
    chat = delete_chat_rows(session, ids)
    session.execute(delete(ChatCaseMessage).where(col(ChatCaseMessage.case_id) == case.id)
                    .execution_options(synchronize_session=False))
    challenges = delete_challenges(session, case_ids=ids)
    session.execute(delete(CaseThreadRef).where(col(CaseThreadRef.case_id) == case.id)
                    .execution_options(synchronize_session=False))
    # Years past identity.signature_max_age_days: the signature could verify nothing again.
    session.execute(delete(UsedSignature).where(col(UsedSignature.case_id) == case.id)
                    .execution_options(synchronize_session=False))
    session.execute(update(FieldChange).where(col(FieldChange.case_id) == case.id)
                    .values(case_id=None).execution_options(synchronize_session=False))
    session.delete(case)
    session.flush()
    return CaseFileCounts(mails=emptied, letters=int(getattr(gone, "rowcount", 0) or 0),
                          attachments=int(getattr(files, "rowcount", 0) or 0), chat=chat,
                          challenges=challenges)
