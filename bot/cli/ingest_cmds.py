"""``dsrbot ingest PATH...``: a mail backlog (.eml files, maildirs, mbox files) into the inbox."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bot.cli.context import ctx_obj
from bot.mail.ingest import ingest_paths, total_bytes
from storage import migrate


class MboxFormatOption(StrEnum):
    mboxrd = "mboxrd"
    mboxo = "mboxo"


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help=".eml files, maildirs or mbox files")],
    store_only: Annotated[
        bool,
        typer.Option("--store-only",
                     help="Only store; the running service processes the messages later"),
    ] = False,
    mbox_format: Annotated[
        MboxFormatOption,
        typer.Option("--mbox-format",
                     help="How body 'From ' lines are quoted in mbox files: mboxrd (lossless) "
                          "or mboxo (ambiguous: a '>From ' body line comes back as 'From ')"),
    ] = MboxFormatOption.mboxrd,
) -> None:
    """Import a mail backlog through the same inbox and pipeline as live mail.

    Importing the same files again adds nothing: stored messages are recognised. An mbox
    message that a 'From ' line in a body may have split is held for staff, and said so.
    """
    obj = ctx_obj(ctx)
    migrate.upgrade(obj.settings.database.url)
    err = Console(stderr=True)
    total = total_bytes(paths)
    with Progress(
        TextColumn("[bold]ingest"), BarColumn(), DownloadColumn(),
        TextColumn("{task.fields[messages]} messages"), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err, transient=False,
    ) as progress:
        task = progress.add_task("ingest", total=total or None, messages=0)

        def tick(done_bytes: int, messages: int) -> None:
            progress.update(task, completed=done_bytes, messages=messages)

        summary = ingest_paths(obj.db, obj.settings, paths,
                               mode="store" if store_only else "pipeline", progress=tick,
                               mbox_format=mbox_format.value)
        progress.update(task, completed=total)
    for error in summary.errors:
        typer.echo(f"dsrbot: {error}", err=True)
    typer.echo(summary.line())
    if summary.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
