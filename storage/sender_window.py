"""How much mail a sender sent lately: the per-sender rate limit's count.

The pipeline reads, once per batch, when the batch's senders' recent mail arrived
(:func:`remember_recent`); each message's count then comes from that, in the same
transaction, instead of one query per message.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from storage import txmemo
from storage.models import InboundMessage


def recent_count(
    session: Session, from_address: str, since: datetime, until: datetime | None = None
) -> int:
    """Messages stored from ``from_address`` received at or after ``since`` (and until ``until``).

    The per-sender rate limit: pass the message's own ``received_at`` as ``until`` and
    ``received_at - window`` as ``since``; the count then includes the message itself, and
    :func:`handlers.triage.apply_rate_limit` holds it when the count exceeds the limit.
    Returns 0 for an empty address (nothing to key a limit on).
    """
    address = from_address.strip().lower()
    if not address:
        return 0
    known = txmemo.memo(session, "recent_mail").get(address)
    if known is not None and _naive_utc(since) >= known[0]:  # read for the whole batch already
        stamps: list[datetime] = known[1]
        hi = len(stamps) if until is None else bisect_right(stamps, _naive_utc(until))
        return max(hi - bisect_left(stamps, _naive_utc(since)), 0)
    stmt = select(func.count()).select_from(InboundMessage).where(
        col(InboundMessage.from_address) == address,
        col(InboundMessage.received_at) >= since,
    )
    if until is not None:
        stmt = stmt.where(col(InboundMessage.received_at) <= until)
    return int(session.exec(stmt).one())


def remember_recent(session: Session, from_addresses: Sequence[str], since: datetime) -> None:
    """Read once, for a batch of mail, when these senders' stored mail since ``since`` was
    received: :func:`recent_count` then counts from that in this transaction (one query per
    batch, not one per message). Forgotten on any rollback and when the transaction ends."""
    addresses = sorted({a.strip().lower() for a in from_addresses} - {""})
    if not addresses:
        return
    stamps: dict[str, list[datetime]] = {a: [] for a in addresses}
    for address, at in session.exec(
            select(col(InboundMessage.from_address), col(InboundMessage.received_at))
            .where(col(InboundMessage.from_address).in_(addresses),
                   col(InboundMessage.received_at) >= since)).all():
        stamps[address].append(_naive_utc(at))
    known = txmemo.memo(session, "recent_mail")
    for address, found in stamps.items():
        known[address] = (_naive_utc(since), sorted(found))


def _naive_utc(at: datetime) -> datetime:
    """Comparable whatever the driver returns (SQLite: naive UTC; PostgreSQL: aware)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
