"""Copies of a customer's mail that sit in other rows: forwards and bounce notices.

A forward to customer service (``kind="forward"``) carries the stored mail whole as
``original.eml`` and its subject as "Fwd: ...": it is a copy of that mail, linked to it by
``OutboundMessage.inbound_id``. A bounce notice quotes the address of the letter it returns,
linked to it by ``InboundMessage.bounce_of``. Retention and erasure find them through these
links (``handlers/retention``); this module only knows the tables. Every function works in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from storage.models import InboundMessage, OutboundAttachment, OutboundMessage, OutboundState

FORWARD = "forward"
#: What a purged forward's subject says instead of the customer's subject line.
PURGED_SUBJECT = "Fwd: (purged)"
#: Why a forward that had not gone out when it was purged never will.
NOT_SENT = "purged before delivery (retention or erasure)"


def forwards_of(session: Session, inbound_ids: Sequence[int]) -> list[int]:
    """Forwards of these stored mails that still carry what she wrote."""
    if not inbound_ids:
        return []
    stmt = select(OutboundMessage.id).where(col(OutboundMessage.kind) == FORWARD,
                                            col(OutboundMessage.inbound_id).in_(list(inbound_ids)),
                                            col(OutboundMessage.subject) != PURGED_SUBJECT)
    return [i for i in session.exec(stmt).all() if i is not None]


def forwards_due(session: Session, cutoff: datetime, limit: int, after_id: int = 0) -> list[int]:
    """Forwards written before ``cutoff``, delivered or not, not yet purged (ids above
    ``after_id``, keyset paging)."""
    stmt = (select(OutboundMessage.id)
            .where(col(OutboundMessage.kind) == FORWARD, col(OutboundMessage.created_at) < cutoff,
                   col(OutboundMessage.subject) != PURGED_SUBJECT,
                   col(OutboundMessage.id) > after_id)
            .order_by(col(OutboundMessage.id)).limit(limit))
    return [i for i in session.exec(stmt).all() if i is not None]


def purge_forwards(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Empty these forwards: the attached original, the subject line, the note (it lists what
    dsrbot read in the mail), the relay's words. The row keeps kind, recipient (customer
    service), state and dates. One still waiting to go out is never sent: it is marked failed.
    Returns the forwards emptied."""
    if not ids:
        return 0
    rows = (col(OutboundMessage.id).in_(list(ids)), col(OutboundMessage.kind) == FORWARD)
    session.execute(update(OutboundMessage)
                    .where(*rows, col(OutboundMessage.state) == OutboundState.PENDING.value)
                    .values(state=OutboundState.FAILED.value, last_error=NOT_SENT)
                    .execution_options(synchronize_session=False))
    done = session.execute(
        update(OutboundMessage).where(*rows, col(OutboundMessage.subject) != PURGED_SUBJECT)
        .values(subject=PURGED_SUBJECT, body_text="", body_html=None, bounce_diagnostic=None)
        .execution_options(synchronize_session=False))
    session.execute(update(OutboundAttachment)
                    .where(col(OutboundAttachment.outbound_id).in_(list(ids)),
                           col(OutboundAttachment.purged_at).is_(None))
                    .values(data=b"", purged_at=now).execution_options(synchronize_session=False))
    return int(getattr(done, "rowcount", 0) or 0)


def count_forwards_due(session: Session, cutoff: datetime) -> int:
    stmt = select(func.count()).select_from(OutboundMessage).where(
        col(OutboundMessage.kind) == FORWARD, col(OutboundMessage.created_at) < cutoff,
        col(OutboundMessage.subject) != PURGED_SUBJECT)
    return int(session.exec(stmt).one())


def letters_of_cases(session: Session, case_ids: Sequence[str]) -> list[int]:
    if not case_ids:
        return []
    stmt = select(OutboundMessage.id).where(col(OutboundMessage.case_id).in_(list(case_ids)))
    return [i for i in session.exec(stmt).all() if i is not None]


def bounces_of(session: Session, letter_ids: Sequence[int]) -> list[int]:
    """Stored bounce notices returning these letters, not yet purged."""
    if not letter_ids:
        return []
    stmt = select(InboundMessage.id).where(col(InboundMessage.bounce_of).in_(list(letter_ids)),
                                           col(InboundMessage.purged_at).is_(None))
    return [i for i in session.exec(stmt).all() if i is not None]


def unlink_bounces(session: Session, letter_ids: Sequence[int]) -> None:
    """These letters are being deleted (a case file past ``case_years``): their notices no
    longer point at them."""
    if letter_ids:
        session.execute(update(InboundMessage)
                        .where(col(InboundMessage.bounce_of).in_(list(letter_ids)))
                        .values(bounce_of=None).execution_options(synchronize_session=False))
