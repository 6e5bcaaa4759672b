"""What ``dsrbot status`` shows and how: the one rendering its full and quick paths share.

Why apart from :mod:`bot.cli.status_cmds`: the quick path (:mod:`bot.cli.quick`) reads its
facts with plain SQL, the full path through the ORM; both build a :class:`Status` with
:func:`assemble` and print it with :func:`render`, so the two cannot word a line differently.
Nothing here imports the ORM, pydantic or Typer.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.health import verdict
from bot.run_state import HEARTBEAT_SECONDS, RunState


@dataclass
class ServiceState:
    running: bool
    pid: int | None = None
    host: str | None = None
    started_at: str | None = None
    heartbeat_age_seconds: int | None = None
    components: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Status:
    service: ServiceState
    configured: list[str]
    queues: dict[str, int]
    oldest_unprocessed: dict[str, Any] | None
    next_deadline: dict[str, Any] | None
    open_cases: dict[str, int]
    #: ``ok``, ``degraded`` or ``not running``, and why (the exit code says the same).
    health: dict[str, Any] = field(default_factory=dict)
    canary: dict[str, Any] = field(default_factory=dict)
    #: Configuration the operator should know is risky (e.g. rights.require_signature).
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 running and healthy, 1 not running, 3 running but degraded."""
        if not self.service.running:
            return EXIT_NOT_RUNNING
        return EXIT_DEGRADED if self.health.get("problems") else EXIT_OK


EXIT_OK, EXIT_NOT_RUNNING, EXIT_DEGRADED = 0, 1, 3


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def service_state(run_state_file: Path, now: datetime) -> ServiceState:
    state = RunState.read(run_state_file)
    if state is None:
        return ServiceState(running=False, note="no run-state file: not running on this host")
    age = int((now - state.heartbeat_at).total_seconds())
    result = ServiceState(running=True, pid=state.pid, host=state.host,
                          started_at=state.started_at.isoformat(), heartbeat_age_seconds=age,
                          components=state.components)
    if state.host == socket.gethostname() and not _pid_alive(state.pid):
        result.running, result.note = False, "the process is gone (killed?); the file is stale"
    elif age > 3 * HEARTBEAT_SECONDS:
        result.running, result.note = False, "heartbeat is stale: hung, or stopped by SIGKILL"
    return result


def assemble(*, service: ServiceState, configured: list[str], queues: dict[str, int],
             oldest: dict[str, Any] | None, open_cases: list[tuple[str, str, date]],
             facts: verdict.HealthFacts, canary: dict[str, Any], warnings: list[str],
             now: datetime, tz: str) -> Status:
    """The status from facts, however they were read."""
    by_status: dict[str, int] = {}
    for _, status, _ in open_cases:
        by_status[status] = by_status.get(status, 0) + 1
    nxt = min(open_cases, key=lambda c: (c[2], c[0]), default=None)
    deadline = None
    if nxt is not None:
        days = (nxt[2] - now.date()).days
        deadline = {"case_id": nxt[0], "due_date": nxt[2].isoformat(), "days_left": days}
    problems = verdict.problems_of(facts)
    state = "not running" if not service.running else ("degraded" if problems else "ok")
    return Status(
        service=service, configured=configured, queues=queues, oldest_unprocessed=oldest,
        next_deadline=deadline, open_cases=dict(sorted(by_status.items())),
        health={"state": state, "problems": problems,
                "overdue_cases": verdict.overdue_count(open_cases, now, tz)},
        canary=canary, warnings=warnings,
    )


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def render(status: Status) -> str:
    svc = status.service
    if svc.running:
        head = (f"service: running (pid {svc.pid} on {svc.host}, heartbeat "
                f"{_age(svc.heartbeat_age_seconds or 0)} ago): {', '.join(svc.components)}")
    else:
        head = f"service: not running ({svc.note})"
    q = status.queues
    lines = [
        head,
        "configured: " + "; ".join(status.configured),
        f"inbound: {q['inbound_received']} to process, {q['inbound_held']} held, "
        f"{q['inbound_quarantined']} quarantined",
        f"outbox: {q['outbox_pending']} pending, {q['outbox_failed']} failed, "
        f"{q['outbox_bounced']} bounced; "
        f"chat notifications: {q['chat_pending']} pending"
        + ("" if "telegram" in status.configured or not q["chat_pending"]
           else " (chat.backend is console: no chat delivers them)"),
    ]
    oldest = status.oldest_unprocessed
    lines.append("oldest unprocessed: " + (
        f"inbound {oldest['inbound_id']}, waiting {_age(oldest['age_seconds'])}"
        if oldest else "none"))
    nd = status.next_deadline
    lines.append("next deadline: " + (
        f"{nd['case_id']} due {nd['due_date']} ({nd['days_left']} day(s) left)" if nd else "none"))
    cases = ", ".join(f"{k} {v}" for k, v in status.open_cases.items()) or "none"
    lines.append(f"open cases: {sum(status.open_cases.values())} ({cases})")
    lines.append(_canary_line(status.canary))
    health = status.health
    lines.append(f"health: {health['state']}" + (
        ": " + "; ".join(health["problems"]) if health["problems"] else ""))
    lines += [f"warning: {w}" for w in status.warnings]
    return "\n".join(lines)


def _canary_line(canary: dict[str, Any]) -> str:
    if not canary.get("enabled"):
        line = "canary: off"
    elif canary.get("last_round_trip_seconds") is None:
        line = "canary: no probe back yet"
    else:
        line = (f"canary: last round trip {canary['last_round_trip_seconds']:.1f} s, back at "
                f"{canary['last_success_at']}")
    incident = canary.get("incident")
    if incident:
        line += f"; INCIDENT since {incident['opened_at']}: {incident['detail']}"
    silence = canary.get("silence_incident")
    if silence:
        line += f"; SILENCE since {silence['opened_at']}: {silence['detail']}"
    return line
