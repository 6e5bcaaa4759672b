"""Operating commands: init, run, audit verify, cases."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.context import ctx_obj, fail
from storage import audit, migrate
from storage.cases import list_cases
from storage.register import ensure_default_parties

audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


def init(ctx: typer.Context) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    obj = ctx_obj(ctx)
    migrate.upgrade(obj.settings.database.url)
    with obj.db.session() as session:
        ensure_default_parties(session)
    typer.echo(f"database ready: revision {migrate.current_revision(obj.db.url)}")


def run(ctx: typer.Context) -> None:
    """Run the service on the configured channels until SIGTERM or SIGINT."""
    from bot.service import run_service
    asyncio.run(run_service(ctx_obj(ctx).settings))


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Walk the audit chain; exit 1 naming the first entry that does not match."""
    with ctx_obj(ctx).db.read_session() as session:
        result = audit.verify(session)
    if not result.ok:
        raise fail(f"audit chain broken at entry {result.bad_entry_id}: {result.problem}", 1)
    typer.echo(f"audit chain intact: {result.checked} entries")


def cases(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array for scripts")] = False,
) -> None:
    """List cases: id, types, status, received, due, customer, requester, language."""
    with ctx_obj(ctx).db.read_session() as session:
        rows = list_cases(session)
    records: list[dict[str, Any]] = [
        {
            "id": c.id, "types": c.types, "status": c.status,
            "received_at": c.received_at.isoformat(),
            "due_date": (c.extended_due_date or c.due_date).isoformat(),
            "customer_number": number, "requester": c.requester, "language": c.language,
        }
        for c, number in rows
    ]
    if as_json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(records)} case(s)")
    # What staff act on, readable in 80 columns: nothing is cut ("dsrbot case ID" has the rest).
    widths = {"id": 13, "status": 17, "due": 10}
    for column in ("id", "types", "status", "due", "customer", "lang"):
        table.add_column(column, no_wrap=column != "types", overflow="fold",
                         min_width=widths.get(column))
    for r in records:
        table.add_row(r["id"], ", ".join(r["types"]), r["status"].replace("_", " "),
                      r["due_date"], r["customer_number"] or "-", r["language"])
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(run)
    app.command()(cases)
    app.add_typer(audit_app, name="audit")
