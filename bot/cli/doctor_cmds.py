"""``dsrbot doctor``: one line per check with its fix; exit 0 when all pass, 1 on any failure.

It loads settings itself so that a configuration error is one more failed check (exit 1, not
the other commands' exit 2): a health check must say "broken", whatever broke.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.context import ctx_obj
from bot.doctor import FAIL, Check, fail
from bot.settings import ConfigError, load_settings


def _asker(fix: bool) -> Callable[[str], bool]:
    """--fix: yes; at a terminal: ask; otherwise (cron, a container's health check): no."""
    def create(name: str) -> bool:
        if fix:
            return True
        if not sys.stdin.isatty():
            return False
        return typer.confirm(f"Create the IMAP folder {name!r} now?", default=False)
    return create


def doctor(
    ctx: typer.Context,
    fix: Annotated[bool, typer.Option(
        "--fix", help="Create what is safe to create (the IMAP processed folder)")] = False,
    model: Annotated[Path | None, typer.Option(
        "--model", help="Model folder to check (default: the installed one)")] = None,
    skip_model: Annotated[bool, typer.Option(
        "--skip-model", help="Skip loading the model (a few seconds)")] = False,
) -> None:
    """Check everything the configuration enables, one line per check."""
    from bot.doctor import local, mail

    obj = ctx_obj(ctx)
    checks: list[Check] = []
    try:
        settings = load_settings(obj.config_path)
    except ConfigError as exc:
        checks.append(fail("config", str(exc), "fix the key named (see config.example.toml)"))
    else:
        checks += local.check_database(settings)
        if not skip_model:
            from nlp_models.classifier import DEFAULT_MODEL_DIR

            checks += local.check_model(model or DEFAULT_MODEL_DIR)
        checks += mail.check_imap(settings, _asker(fix))
        checks += asyncio.run(mail.check_smtp(settings))
        checks += local.check_telegram(settings)
        checks += local.check_trust(settings)
        checks += local.check_timezone(settings)
        checks += local.check_settings_policy(settings)
    for check in checks:
        typer.echo(check.line())
    if any(c.status == FAIL for c in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
