"""The one health verdict ``dsrbot status`` (exit 0/1/3), ``/healthz`` and ``/metrics`` share.

Why read the database only: "is it working?" is asked most urgently when it is not, so the
answer cannot come from the service itself. Degraded means a person must look: the canary is
late, no mail arrives, letters fail or bounce unhandled, or mail waits unprocessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.policy_from_settings import canary_runs
from bot.settings import Settings
from handlers import deadlines
from storage import health as store
from storage import mail_copies
from storage.case_status import CLOSED
from storage.models import (
    Case,
    CaseStatus,
    ChatNotification,
    ChatNotificationState,
    InboundMessage,
    InboundState,
    OutboundMessage,
    OutboundState,
)

#: Mail waiting longer than this means the pipeline is stuck.
MAX_UNPROCESSED_AGE = timedelta(minutes=10)
#: A letter that failed within this window still counts as "outbox failing".
FAILED_WINDOW = timedelta(hours=24)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _count_by(session: Session, column: Any, model: Any) -> dict[str, int]:
    rows = session.exec(select(column, func.count()).select_from(model).group_by(column)).all()
    return {str(k): int(v) for k, v in rows}


def queue_depths(session: Session) -> dict[str, int]:
    inbound = _count_by(session, col(InboundMessage.state), InboundMessage)
    outbound = _count_by(session, col(OutboundMessage.state), OutboundMessage)
    chat = _count_by(session, col(ChatNotification.state), ChatNotification)
    return {
        "inbound_received": inbound.get(InboundState.RECEIVED, 0),
        "inbound_held": inbound.get(InboundState.HELD, 0),
        "inbound_quarantined": inbound.get(InboundState.QUARANTINED, 0),
        "outbox_pending": outbound.get(OutboundState.PENDING, 0),
        "outbox_failed": outbound.get(OutboundState.FAILED, 0),
        "outbox_bounced": outbound.get(OutboundState.BOUNCED, 0),
        "chat_pending": chat.get(ChatNotificationState.PENDING, 0),
    }


def oldest_unprocessed(session: Session, now: datetime) -> dict[str, Any] | None:
    row = session.exec(
        select(InboundMessage.id, InboundMessage.received_at)
        .where(InboundMessage.state == InboundState.RECEIVED)
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id)).limit(1)
    ).first()
    if row is None:
        return None
    inbound_id, received_at = row
    age = int((now - aware(received_at)).total_seconds())
    return {"inbound_id": inbound_id, "received_at": aware(received_at).isoformat(),
            "age_seconds": age}


def open_cases(session: Session) -> list[tuple[str, str, date]]:
    """(id, status, effective due date) of every open case."""
    rows = session.exec(
        select(col(Case.id), col(Case.status), col(Case.due_date), col(Case.extended_due_date))
        .where(col(Case.status).not_in([s.value for s in CLOSED]))
    ).all()
    return [(cid, status, extended or due) for cid, status, due, extended in rows]


def overdue_count(cases: list[tuple[str, str, date]], now: datetime, tz: str) -> int:
    today = deadlines.local_date(now, tz)
    return sum(1 for _, _, due in cases if due < today)


def canary_state(settings: Settings, session: Session) -> dict[str, Any]:
    """The last round trip and the incident, if any (what ``dsrbot status`` shows)."""
    last = store.last_arrival(session)
    incidents = {i.kind: i for i in store.open_incidents(session)}
    canary = incidents.get("canary")
    return {
        "enabled": canary_runs(settings),
        "interval_minutes": settings.health.canary_interval_minutes,
        "last_round_trip_seconds": last.round_trip_seconds if last else None,
        "last_success_at": aware(last.arrived_at).isoformat() if last and last.arrived_at
        else None,
        "incident": ({"opened_at": aware(canary.opened_at).isoformat(), "detail": canary.detail}
                     if canary else None),
        "silence_incident": ({"opened_at": aware(incidents["silence"].opened_at).isoformat(),
                              "detail": incidents["silence"].detail}
                             if "silence" in incidents else None),
    }


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def problems(settings: Settings, session: Session, now: datetime,
             queues: dict[str, int] | None = None) -> Verdict:
    """Every reason a person must look now (empty: healthy)."""
    verdict = Verdict()
    if canary_runs(settings):
        alert = timedelta(minutes=settings.health.canary_alert_minutes)
        late = store.overdue_probe(session, now, alert)
        if late is not None or any(i.kind == "canary" for i in store.open_incidents(session)):
            verdict.problems.append("canary late: mail to our address is not coming back")
    if any(i.kind == "silence" for i in store.open_incidents(session)):
        verdict.problems.append("no mail arriving (silence alert)")
    failing = session.exec(select(func.count()).select_from(OutboundMessage).where(
        ((col(OutboundMessage.state) == OutboundState.FAILED.value)
         & (col(OutboundMessage.next_attempt_at) >= now - FAILED_WINDOW)
         # A forward purged before it went out (retention, erasure) was stopped on purpose.
         & col(OutboundMessage.last_error).is_distinct_from(mail_copies.NOT_SENT))
        | ((col(OutboundMessage.state) == OutboundState.PENDING.value)
           & col(OutboundMessage.last_error).is_not(None)))).one()
    if failing:
        verdict.problems.append(f"outbox failing: {failing} letter(s) failed or retrying")
    unhandled = session.exec(select(func.count()).select_from(Case).where(
        col(Case.status) == CaseStatus.DELIVERY_FAILED.value)).one()
    if unhandled:
        verdict.problems.append(f"bounces unhandled: {unhandled} case(s) in delivery_failed")
    oldest = oldest_unprocessed(session, now)
    if oldest and oldest["age_seconds"] > MAX_UNPROCESSED_AGE.total_seconds():
        verdict.problems.append(
            f"oldest unprocessed message waits {oldest['age_seconds'] // 60} min")
    return verdict
