"""The health verdict's wording, from facts: pure functions, no database, no settings.

Why apart from :mod:`bot.health.report`: the facts are read in two ways, through the ORM
(``report``: ``/healthz``, ``/metrics`` and ``dsrbot status``'s full path) and with plain SQL
(:mod:`bot.cli.quick`, ``dsrbot status`` in a hurry). Both hand their facts to these
functions, so the two can differ in how they read but never in what they say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from handlers.deadlines import local_date
from storage.states import ChatNotificationState, InboundState, OutboundState

#: Mail waiting longer than this means the pipeline is stuck.
MAX_UNPROCESSED_AGE = timedelta(minutes=10)
#: A letter that failed within this window still counts as "outbox failing".
FAILED_WINDOW = timedelta(hours=24)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def queues_of(inbound: dict[str, int], outbound: dict[str, int], chat: dict[str, int]
              ) -> dict[str, int]:
    """The queue depths ``status`` shows, from counts per state of each table."""
    return {
        "inbound_received": inbound.get(InboundState.RECEIVED, 0),
        "inbound_held": inbound.get(InboundState.HELD, 0),
        "inbound_quarantined": inbound.get(InboundState.QUARANTINED, 0),
        "outbox_pending": outbound.get(OutboundState.PENDING, 0),
        "outbox_failed": outbound.get(OutboundState.FAILED, 0),
        "outbox_bounced": outbound.get(OutboundState.BOUNCED, 0),
        "chat_pending": chat.get(ChatNotificationState.PENDING, 0),
    }


def oldest_of(row: tuple[int | None, datetime] | None, now: datetime) -> dict[str, Any] | None:
    """The oldest unprocessed message (id, received_at) as ``status`` shows it."""
    if row is None:
        return None
    inbound_id, received_at = row
    age = int((now - aware(received_at)).total_seconds())
    return {"inbound_id": inbound_id, "received_at": aware(received_at).isoformat(),
            "age_seconds": age}


def overdue_count(cases: list[tuple[str, str, date]], now: datetime, tz: str) -> int:
    """Open cases (id, status, effective due date) past their due date, today in ``tz``."""
    today = local_date(now, tz)
    return sum(1 for _, _, due in cases if due < today)


@dataclass(frozen=True)
class Incident:
    kind: str
    opened_at: datetime
    detail: str


def canary_of(*, enabled: bool, interval_minutes: float,
              last: tuple[float | None, datetime | None] | None,
              incidents: list[Incident]) -> dict[str, Any]:
    """The last round trip and the open incidents, as ``status`` shows them."""
    by_kind = {i.kind: i for i in incidents}

    def shown(kind: str) -> dict[str, str] | None:
        found = by_kind.get(kind)
        return ({"opened_at": aware(found.opened_at).isoformat(), "detail": found.detail}
                if found else None)

    round_trip, arrived_at = last if last is not None else (None, None)
    return {
        "enabled": enabled,
        "interval_minutes": interval_minutes,
        "last_round_trip_seconds": round_trip,
        "last_success_at": aware(arrived_at).isoformat() if arrived_at else None,
        "incident": shown("canary"),
        "silence_incident": shown("silence"),
    }


@dataclass(frozen=True)
class HealthFacts:
    """What the verdict needs to know; each reader fills it from the database its own way."""

    canary_late: bool
    silence: bool
    failing_letters: int
    delivery_failed_cases: int
    oldest: dict[str, Any] | None


def problems_of(facts: HealthFacts) -> list[str]:
    """Every reason a person must look now (empty: healthy)."""
    problems = []
    if facts.canary_late:
        problems.append("canary late: mail to our address is not coming back")
    if facts.silence:
        problems.append("no mail arriving (silence alert)")
    if facts.failing_letters:
        problems.append(f"outbox failing: {facts.failing_letters} letter(s) failed or retrying")
    if facts.delivery_failed_cases:
        problems.append(f"bounces unhandled: {facts.delivery_failed_cases} case(s) in "
                        "delivery_failed")
    oldest = facts.oldest
    if oldest and oldest["age_seconds"] > MAX_UNPROCESSED_AGE.total_seconds():
        problems.append(f"oldest unprocessed message waits {oldest['age_seconds'] // 60} min")
    return problems
