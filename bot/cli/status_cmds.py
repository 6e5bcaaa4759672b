"""``dsrbot status``: what runs, what waits, what is due next (the full path; the view and
the quick path: :mod:`bot.cli.status_view`, :mod:`bot.cli.quick`).

Why it reads the database (and the run-state file) only: an operator asks "is it working?"
most urgently when the service is not, so the answer must not depend on the service. The run-state
file, written and refreshed by ``dsrbot run``, says whether a service runs on this host.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot.cli.context import ctx_obj, fail
from bot.cli.status_view import Status, assemble, render, service_state
from bot.health import report
from bot.policy_from_settings import signature_warning
from bot.run_state import run_state_path
from bot.settings import Settings


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


def status_warnings(settings: Settings) -> list[str]:
    """Configuration the operator should know is risky."""
    return [w for w in (signature_warning(settings),) if w]


def collect_status(settings: Settings, session: Session, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)
    return assemble(
        service=service_state(run_state_path(settings), now),
        configured=configured_components(settings),
        queues=report.queue_depths(session),
        oldest=report.oldest_unprocessed(session, now),
        open_cases=report.open_cases(session),
        facts=report.health_facts(settings, session, now),
        canary=report.canary_state(settings, session),
        warnings=status_warnings(settings), now=now, tz=settings.organisation.timezone,
    )


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object for scripts")] = False,
) -> None:
    """What runs, the queues, the next deadline, the canary and health.

    Exit code 0: running and healthy; 1: not running; 3: running but degraded."""
    from bot.cli.quick.remember import remember_for_quick

    obj = ctx_obj(ctx)
    remember_for_quick(obj)
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
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command()(status)
