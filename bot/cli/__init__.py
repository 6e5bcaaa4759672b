"""The ``dsrbot`` command: one Typer app; each command group lives in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli import (
    admin_cmds,
    case_cmds,
    ingest_cmds,
    nlp_cmds,
    register_cmds,
    staff_cmds,
    status_cmds,
    tick_cmds,
)
from bot.cli.context import CliContext

app = typer.Typer(
    name="dsrbot", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Handles personal-data requests that arrive by email, as the privacy notice requires.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML config file (else $DSRBOT_CONFIG, else ./config.toml)"),
    ] = None,
) -> None:
    ctx.obj = CliContext(config)
    ctx.call_on_close(ctx.obj.close)


admin_cmds.register(app)
register_cmds.register(app)
case_cmds.register(app)
ingest_cmds.register(app)
tick_cmds.register(app)
nlp_cmds.register(app)
status_cmds.register(app)
staff_cmds.register(app)


def main() -> None:
    app()
