"""Health rows: canary probes and incidents, claimed so several instances act once.

A probe's ``slot`` (interval number) and an incident's ``open_key`` are unique: whoever's
insert wins sends the probe or the alert; the others find the row and do nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import CanaryProbe, HealthIncident, InboundMessage, InboundState


def add_probe(session: Session, *, slot: int, token_hash: str, now: datetime
              ) -> CanaryProbe | None:
    """The probe of ``slot``, new; None when another instance already sent this slot's."""
    if session.exec(select(CanaryProbe.id).where(col(CanaryProbe.slot) == slot)).first():
        return None
    try:
        with session.begin_nested():
            probe = CanaryProbe(slot=slot, token_hash=token_hash, created_at=now)
            session.add(probe)
    except IntegrityError:
        return None
    return probe


def probe_by_token_hash(session: Session, token_hash: str) -> CanaryProbe | None:
    return session.exec(select(CanaryProbe).where(
        col(CanaryProbe.token_hash) == token_hash).with_for_update()).first()


def last_arrival(session: Session) -> CanaryProbe | None:
    return session.exec(select(CanaryProbe).where(col(CanaryProbe.arrived_at).is_not(None))
                        .order_by(col(CanaryProbe.arrived_at).desc()).limit(1)).first()


def overdue_probe(session: Session, now: datetime, alert_after: timedelta
                  ) -> CanaryProbe | None:
    """The oldest probe not back within ``alert_after`` and sent after the last arrival
    (a probe lost before the way was proven to work again no longer counts)."""
    last = last_arrival(session)
    stmt = (select(CanaryProbe).where(col(CanaryProbe.arrived_at).is_(None))
            .where(col(CanaryProbe.created_at) <= now - alert_after)
            .order_by(col(CanaryProbe.created_at)).limit(1))
    if last is not None and last.arrived_at is not None:
        stmt = stmt.where(col(CanaryProbe.created_at) > last.arrived_at)
    return session.exec(stmt).first()


def last_inbound_at(session: Session) -> datetime | None:
    """When the newest real mail (not a canary probe) was stored."""
    return session.exec(select(func.max(InboundMessage.received_at)).where(
        col(InboundMessage.state) != InboundState.CANARY.value)).one()


def open_incident(session: Session, kind: str, detail: str, now: datetime) -> bool:
    """Open a ``kind`` incident; False when one is open already (then nobody alerts again)."""
    if session.exec(select(HealthIncident.id).where(
            col(HealthIncident.open_key) == kind)).first():
        return False
    try:
        with session.begin_nested():
            session.add(HealthIncident(kind=kind, open_key=kind, detail=detail[:300],
                                       opened_at=now))
    except IntegrityError:
        return False
    return True


def close_incident(session: Session, kind: str, now: datetime) -> HealthIncident | None:
    """Close the open ``kind`` incident; the closed row, or None when none was open."""
    row = session.exec(select(HealthIncident).where(col(HealthIncident.open_key) == kind)
                       .with_for_update()).first()
    if row is None:
        return None
    row.open_key, row.closed_at = None, now
    session.add(row)
    session.flush()
    return row


def open_incidents(session: Session) -> list[HealthIncident]:
    return list(session.exec(select(HealthIncident).where(
        col(HealthIncident.open_key).is_not(None)).order_by(col(HealthIncident.id))).all())
