"""The one health verdict ``dsrbot status`` (exit 0/1/3), ``/healthz`` and ``/metrics`` share.

Why read the database only: "is it working?" is asked most urgently when it is not, so the
answer cannot come from the service itself. Degraded means a person must look: the canary is
late, no mail arrives, letters fail or bounce unhandled, or mail waits unprocessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.health import verdict
from bot.health.verdict import FAILED_WINDOW
from bot.health.verdict import overdue_count as overdue_count  # metrics and status share it
from bot.policy_from_settings import canary_runs
from bot.settings import Settings
from storage import health as store
from storage import mail_copies
from storage.case_status import CLOSED
from storage.models import (
    Case,
    CaseStatus,
    ChatNotification,
    InboundMessage,
    InboundState,
    OutboundMessage,
    OutboundState,
)


def _count_by(session: Session, column: Any, model: Any) -> dict[str, int]:
    rows = session.exec(select(column, func.count()).select_from(model).group_by(column)).all()
    return {str(k): int(v) for k, v in rows}


def queue_depths(session: Session) -> dict[str, int]:
    return verdict.queues_of(_count_by(session, col(InboundMessage.state), InboundMessage),
                             _count_by(session, col(OutboundMessage.state), OutboundMessage),
                             _count_by(session, col(ChatNotification.state), ChatNotification))


def oldest_unprocessed(session: Session, now: datetime) -> dict[str, Any] | None:
    row = session.exec(
        select(InboundMessage.id, InboundMessage.received_at)
        .where(InboundMessage.state == InboundState.RECEIVED)
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id)).limit(1)
    ).first()
    return verdict.oldest_of((row[0], row[1]) if row is not None else None, now)


def open_cases(session: Session) -> list[tuple[str, str, date]]:
    """(id, status, effective due date) of every open case."""
    rows = session.exec(
        select(col(Case.id), col(Case.status), col(Case.due_date), col(Case.extended_due_date))
        .where(col(Case.status).not_in([s.value for s in CLOSED]))
    ).all()
    return [(cid, status, extended or due) for cid, status, due, extended in rows]


def _incidents(session: Session) -> list[verdict.Incident]:
    return [verdict.Incident(i.kind, i.opened_at, i.detail) for i in store.open_incidents(session)]


def canary_state(settings: Settings, session: Session) -> dict[str, Any]:
    """The last round trip and the incident, if any (what ``dsrbot status`` shows)."""
    last = store.last_arrival(session)
    return verdict.canary_of(
        enabled=canary_runs(settings), interval_minutes=settings.health.canary_interval_minutes,
        last=(last.round_trip_seconds, last.arrived_at) if last else None,
        incidents=_incidents(session))


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def problems(settings: Settings, session: Session, now: datetime,
             queues: dict[str, int] | None = None) -> Verdict:
    """Every reason a person must look now (empty: healthy)."""
    return Verdict(verdict.problems_of(health_facts(settings, session, now)))


def health_facts(settings: Settings, session: Session, now: datetime) -> verdict.HealthFacts:
    """What the verdict is made of, read through the ORM."""
    incidents = {i.kind for i in _incidents(session)}
    late = False
    if canary_runs(settings):
        alert = timedelta(minutes=settings.health.canary_alert_minutes)
        late = store.overdue_probe(session, now, alert) is not None or "canary" in incidents
    failing = session.exec(select(func.count()).select_from(OutboundMessage).where(
        ((col(OutboundMessage.state) == OutboundState.FAILED.value)
         & (col(OutboundMessage.next_attempt_at) >= now - FAILED_WINDOW)
         # A forward purged before it went out (retention, erasure) was stopped on purpose.
         & col(OutboundMessage.last_error).is_distinct_from(mail_copies.NOT_SENT))
        | ((col(OutboundMessage.state) == OutboundState.PENDING.value)
           & col(OutboundMessage.last_error).is_not(None)))).one()
    unhandled = session.exec(select(func.count()).select_from(Case).where(
        col(Case.status) == CaseStatus.DELIVERY_FAILED.value)).one()
    return verdict.HealthFacts(canary_late=late, silence="silence" in incidents,
                               failing_letters=int(failing),
                               delivery_failed_cases=int(unhandled),
                               oldest=oldest_unprocessed(session, now))
