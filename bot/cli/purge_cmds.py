"""``dsrbot purge``: dsrbot's own records past their retention, purged now (or only counted).

It runs what the scheduler runs daily (:class:`bot.purge_job.PurgeJob`), without the daily
claim: an operator may purge again the same day (nothing is purged twice; the second run
finds less due). Output and audit hold counts per kind, never contents. The audit entry names
the login that ran it (``operator:<login>``): a purge decides nothing about a case, so it
takes no ``--as``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.cli.context import ctx_obj, fail, operator_actor
from bot.cli.tick_cmds import parse_moment
from bot.policy_from_settings import record_retention
from bot.purge_job import PurgeJob


def purge(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(
        "--now", help="Purge as of this moment (ISO; local time unless it has an offset). "
                      "Default: the current time.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only count what is due; change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Counts as JSON for scripts")] = False,
) -> None:
    """Purge stored mail, outbox files and closed case files past retention.* (see README)."""
    obj = ctx_obj(ctx)
    settings = obj.settings
    try:
        moment = (parse_moment(now, settings.organisation.timezone) if now
                  else datetime.now(UTC))
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    report = PurgeJob(obj.db, record_retention(settings)).run(
        moment, dry_run=dry_run, actor=operator_actor(None))
    if as_json:
        typer.echo(json.dumps({"now": moment.isoformat(), "dry_run": dry_run,
                               "counts": report.counts, "vacuumed": list(report.vacuumed)},
                              sort_keys=True))
    else:
        typer.echo(f"purge as of {moment.isoformat()}: {report.summary()}"
                   + (" (dry run: nothing changed)" if dry_run else ""))


def register(app: typer.Typer) -> None:
    app.command()(purge)
