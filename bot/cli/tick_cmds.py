"""``dsrbot tick``: run every periodic job once, as of a given moment.

For operators (catch up by hand after an outage, check what the clock would do) and for tests
that walk a case through its month. It runs exactly what the service's scheduler runs, with
the same claims, so running it while the service runs, or twice, never repeats anything.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from bot.cli.context import ctx_obj, fail
from bot.scheduler import JOB_NAMES, PeriodicJobs, TickReport


def parse_moment(value: str, tz: str) -> datetime:
    """ISO date or date-time; without an offset it is local time in ``tz``."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"--now {value!r} is not an ISO date-time "
                         "(e.g. 2026-03-20T09:00 or 2026-03-20T09:00+02:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC)


def tick(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(
        "--now", help="Run as of this moment (ISO; local time unless it has an offset). "
                      "Default: the current time.")] = None,
    job: Annotated[list[str] | None, typer.Option(
        "--job", help=f"Run only this job (repeatable): {', '.join(JOB_NAMES)}")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Counts as JSON for scripts")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print what would be done and change nothing")] = False,
) -> None:
    """Run every periodic job once: reminders, escalations, identity-code expiry, retention,
    digest. Nothing is done twice, whoever else runs them."""
    obj = ctx_obj(ctx)
    settings = obj.settings
    try:
        moment = (parse_moment(now, settings.organisation.timezone) if now
                  else datetime.now(UTC))
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    names = job or list(JOB_NAMES)
    unknown = [n for n in names if n not in JOB_NAMES]
    if unknown:
        raise fail(f"unknown job {unknown[0]!r}; jobs: {', '.join(JOB_NAMES)}", 2)
    jobs = PeriodicJobs(settings, obj.db, dry_run=dry_run)
    report = TickReport()
    for name in JOB_NAMES:
        if name in names:
            report.merge(jobs.run(name, moment))
    if as_json:
        out: dict[str, object] = {"now": moment.isoformat(), "counts": report.counts,
                                  "errors": report.errors}
        if dry_run:
            out |= {"dry_run": True, "would_do": report.planned}
        typer.echo(json.dumps(out, sort_keys=True))
    elif dry_run:
        typer.echo(f"dry run as of {moment.isoformat()} (nothing changed): "
                   f"would do {report.summary()}")
        for line in report.planned:
            typer.echo(f"  {line}")
    else:
        typer.echo(f"tick as of {moment.isoformat()}: {report.summary()}")
    if report.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(tick)
