"""``dsrbot status``: what runs, what waits, what is due next.

Why it reads the database (and the run-state file) only: an operator asks "is it working?"
most urgently when the service is not, so the answer must not depend on the service. The run-state
file, written and refreshed by ``dsrbot run``, says whether a service runs on this host.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from bot.cli.context import ctx_obj, fail
from bot.policy_from_settings import signature_warning
from bot.service import HEARTBEAT_SECONDS, RunState, run_state_path
from bot.settings import Settings
from storage.case_status import CLOSED
from storage.models import (
    Case,
    ChatNotification,
    ChatNotificationState,
    InboundMessage,
    InboundState,
    OutboundMessage,
    OutboundState,
)


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
    #: Configuration the operator should know is risky (e.g. rights.require_signature).
    warnings: list[str] = field(default_factory=list)


def configured_components(settings: Settings) -> list[str]:
    """The components ``dsrbot run`` would start with these settings (see build_components)."""
    out = settings.mail.outgoing
    where = str(out.maildir) if out.backend == "maildir" else f"{out.host}:{out.port}"
    names = [f"outbox-sender ({out.backend} {where})", "pipeline"]
    receiver = settings.mail.receiver
    if receiver.enabled:
        names.append(f"{receiver.protocol}-receiver ({receiver.host}:{receiver.port})")
    imap = settings.mail.imap
    if imap.enabled:
        names.append(f"imap-watcher ({imap.host}:{imap.port} {imap.mailbox})")
    if settings.scheduler.enabled:
        names.append("scheduler")
    if settings.chat.backend == "telegram":
        names.append("telegram")
    else:
        names.append("console chat (the dsrbot CLI; no component)")
    return names


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def service_state(settings: Settings, now: datetime) -> ServiceState:
    state = RunState.read(run_state_path(settings))
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
        "chat_pending": chat.get(ChatNotificationState.PENDING, 0),
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def oldest_unprocessed(session: Session, now: datetime) -> dict[str, Any] | None:
    row = session.exec(
        select(InboundMessage.id, InboundMessage.received_at)
        .where(InboundMessage.state == InboundState.RECEIVED)
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id)).limit(1)
    ).first()
    if row is None:
        return None
    inbound_id, received_at = row
    age = int((now - _aware(received_at)).total_seconds())
    return {"inbound_id": inbound_id, "received_at": _aware(received_at).isoformat(),
            "age_seconds": age}


def _open(session: Session) -> list[tuple[str, str, date]]:
    rows = session.exec(
        select(col(Case.id), col(Case.status), col(Case.due_date),
               col(Case.extended_due_date))
        .where(col(Case.status).not_in([s.value for s in CLOSED]))
    ).all()
    return [(cid, status, extended or due) for cid, status, due, extended in rows]


def collect_status(settings: Settings, session: Session, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)
    open_cases = _open(session)
    by_status: dict[str, int] = {}
    for _, status, _ in open_cases:
        by_status[status] = by_status.get(status, 0) + 1
    nxt = min(open_cases, key=lambda c: (c[2], c[0]), default=None)
    deadline = None
    if nxt is not None:
        days = (nxt[2] - now.date()).days
        deadline = {"case_id": nxt[0], "due_date": nxt[2].isoformat(), "days_left": days}
    return Status(
        service=service_state(settings, now),
        configured=configured_components(settings),
        queues=queue_depths(session),
        oldest_unprocessed=oldest_unprocessed(session, now),
        next_deadline=deadline,
        open_cases=dict(sorted(by_status.items())),
        warnings=[w for w in (signature_warning(settings),) if w],
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
        f"outbox: {q['outbox_pending']} pending, {q['outbox_failed']} failed; "
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
    lines += [f"warning: {w}" for w in status.warnings]
    return "\n".join(lines)


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object for scripts")] = False,
) -> None:
    """What runs, the queue depths, the oldest unprocessed message and the next deadline."""
    obj = ctx_obj(ctx)
    try:
        with obj.db.read_session() as session:
            result = collect_status(obj.settings, session)
    except SQLAlchemyError as exc:
        raise fail(f"cannot read the database ({exc.__class__.__name__}); "
                   "is it reachable, and was `dsrbot init` run?", 1) from None
    if as_json:
        typer.echo(json.dumps(asdict(result), indent=2))
    else:
        typer.echo(render(result))


def register(app: typer.Typer) -> None:
    app.command()(status)
