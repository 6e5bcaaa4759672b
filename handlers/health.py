"""Health incidents: the canary is late, or no mail at all arrives. Alert once, and once more
when it recovers.

Why incidents and not a check per tick: a broken mailbox stays broken for hours; staff need
one message that says so and one that says it works again, not one every few minutes. The
incident row (``storage.health``) is the memory of what was said, shared by all instances.
Alerts go to the staff chat and, when ``health.alert_to`` is set, by mail (through the outbox:
if the outgoing path is what broke, the chat still carries it).

Silence is counted in working hours (08-16 on Finnish working days, ``handlers.deadlines``):
a quiet weekend is not an incident, a quiet Tuesday is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from handlers import deadlines
from handlers.policy import HealthPolicy
from storage import audit, chat_outbox, outbox
from storage import health as store

CANARY, SILENCE = "canary", "silence"
ALERT_KIND = "health_alert"
WORKDAY_START, WORKDAY_END = time(8, 0), time(16, 0)


@dataclass
class HealthCheck:
    """What one check did (counts for the log; the alerts are in the outboxes)."""

    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def working_hours_between(start: datetime, end: datetime, tz: str) -> float:
    """Hours of ``[start, end]`` that fall within 08-16 local time on Finnish working days."""
    zone = ZoneInfo(tz)
    if end <= start:
        return 0.0
    total = 0.0
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if deadlines.is_working_day(day):
            open_at = datetime.combine(day, WORKDAY_START, zone)
            close_at = datetime.combine(day, WORKDAY_END, zone)
            lo, hi = max(open_at, start), min(close_at, end)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total


def _alert(session: Session, policy: HealthPolicy, subject: str, text: str, now: datetime
           ) -> None:
    chat_outbox.notify_staff(session, text, now=now, health=subject)
    if policy.alert_to:
        outbox.enqueue(session, kind=ALERT_KIND, recipient=policy.alert_to,
                       subject=f"dsrbot: {subject}", body_text=text + "\n",
                       domain=policy.org.domain, now=now)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_canary(session: Session, policy: HealthPolicy, now: datetime, result: HealthCheck
                 ) -> None:
    if policy.canary_interval is None:
        return
    late = store.overdue_probe(session, now, policy.canary_alert)
    minutes = round(policy.canary_alert.total_seconds() / 60, 1)
    if late is not None:
        sent = _aware(late.created_at).isoformat(timespec="seconds")
        detail = f"probe #{late.id} sent {sent} not back after {minutes} min"
        if store.open_incident(session, CANARY, detail, now):
            _alert(session, policy, "mailbox canary late",
                   f"Mailbox canary: the probe mailed to our privacy address at {sent} has not "
                   f"come back within {minutes} minutes. Mail to us may not be arriving: check "
                   "the MX, the forwarding rule, the IMAP login and the outgoing relay.", now)
            audit.record(session, audit.BOT_ACTOR, "health.incident_opened",
                         details={"kind": CANARY, "probe_id": late.id})
            result.opened.append(CANARY)
    elif (closed := store.close_incident(session, CANARY, now)) is not None:
        _alert(session, policy, "mailbox canary recovered",
               "Mailbox canary recovered: probes come back again (the incident opened at "
               f"{_aware(closed.opened_at).isoformat(timespec='seconds')} is closed).", now)
        audit.record(session, audit.BOT_ACTOR, "health.incident_closed",
                     details={"kind": CANARY, "incident_id": closed.id})
        result.closed.append(CANARY)


def check_silence(session: Session, policy: HealthPolicy, now: datetime, result: HealthCheck
                  ) -> None:
    if policy.silence_hours <= 0:
        return
    last = store.last_inbound_at(session)
    if last is None:
        return  # a fresh installation: nothing has ever arrived to fall silent
    hours = working_hours_between(_aware(last), now, policy.org.tz)
    if hours >= policy.silence_hours:
        since = _aware(last).isoformat(timespec="seconds")
        if store.open_incident(session, SILENCE, f"no mail since {since}", now):
            _alert(session, policy, "no mail arriving",
                   f"No mail at all has arrived since {since} ({hours:.0f} working hours). "
                   "The mailbox may be cut off: check the MX and forwarding.", now)
            audit.record(session, audit.BOT_ACTOR, "health.incident_opened",
                         details={"kind": SILENCE})
            result.opened.append(SILENCE)
    elif (closed := store.close_incident(session, SILENCE, now)) is not None:
        _alert(session, policy, "mail arriving again", "Mail arrives again (the silence "
               f"alert of {_aware(closed.opened_at).isoformat(timespec='seconds')} is over).",
               now)
        audit.record(session, audit.BOT_ACTOR, "health.incident_closed",
                     details={"kind": SILENCE, "incident_id": closed.id})
        result.closed.append(SILENCE)
