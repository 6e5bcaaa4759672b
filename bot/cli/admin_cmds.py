"""Operating commands: init, run, audit verify/checkpoint, cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.console_looks import record_look
from bot.cli.context import EXIT_CONFIG, ctx_obj, fail
from storage import audit
from storage.case_status import CLOSED
from storage.cases import list_cases
from storage.register import ensure_default_parties

audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


def init(ctx: typer.Context) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from storage import migrate

    obj = ctx_obj(ctx)
    obj.require_schema = False
    migrate.upgrade(obj.settings.database.url)
    with obj.db.session() as session:
        ensure_default_parties(session)
    typer.echo(f"database ready: revision {migrate.current_revision(obj.db.url)}")


def run(ctx: typer.Context) -> None:
    """Run the service on the configured channels until SIGTERM or SIGINT."""
    import asyncio

    from bot.service import run_service
    asyncio.run(run_service(ctx_obj(ctx).settings))


def _read_checkpoints(raw: list[str], path: Path | None) -> list[audit.Checkpoint]:
    lines = list(raw)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{path}: cannot read ({exc.__class__.__name__})", EXIT_CONFIG) from exc
        lines += [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    try:
        return [audit.Checkpoint.parse(line) for line in lines]
    except ValueError as exc:
        raise fail(str(exc), EXIT_CONFIG) from exc


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    checkpoint: Annotated[list[str] | None, typer.Option(
        "--checkpoint", help='"COUNT HASH" from `dsrbot audit checkpoint` (repeatable)')] = None,
    checkpoints: Annotated[Path | None, typer.Option(
        "--checkpoints", help="A file of checkpoints, one per line (var/audit-checkpoints.log)",
    )] = None,
) -> None:
    """Walk the audit chain; exit 1 naming the first entry or checkpoint that does not match."""
    anchors = _read_checkpoints(checkpoint or [], checkpoints)
    obj = ctx_obj(ctx)
    key = obj.audit_key
    with obj.db.read_session() as session:
        result = audit.verify(session, key=key, checkpoints=anchors)
    mode = ("keyed: HMAC-SHA256 checked with the audit key" if key is not None
            else "plain: SHA-256 only, no key given")
    anchored = f"{result.checkpoints} checkpoint(s)" if anchors else "no checkpoint"
    if not result.ok:
        where = f" at entry {result.bad_entry_id}" if result.bad_entry_id is not None else ""
        raise fail(f"audit chain broken{where}: {result.problem} [{mode}; {anchored}]", 1)
    typer.echo(f"audit chain intact: {result.checked} entries [{mode}; {anchored}]")
    if not anchors and key is None:
        typer.echo("note: without a checkpoint or the key, deleting the last entries or "
                   "rewriting and rehashing the chain is not detected", err=True)


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context) -> None:
    """Print `COUNT HASH` of the chain's head: keep it outside the database."""
    with ctx_obj(ctx).db.read_session() as session:
        typer.echo(str(audit.head(session)))


def cases(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array for scripts")] = False,
    every: Annotated[bool, typer.Option("--all", help="Closed cases too")] = False,
) -> None:
    """List open cases (--all: every case)."""
    with ctx_obj(ctx).db.read_session() as session:
        rows = list_cases(session)
    records: list[dict[str, Any]] = [
        {
            "id": c.id, "types": c.types, "status": c.status,
            "received_at": c.received_at.isoformat(),
            "due_date": (c.extended_due_date or c.due_date).isoformat(),
            "customer_number": number, "requester": c.requester, "language": c.language,
            "claimed_earlier": c.claimed_earlier.isoformat() if c.claimed_earlier else None,
            "on_behalf_of": c.on_behalf_of,
        }
        for c, number in rows if every or c.status not in CLOSED
    ]
    if records:
        record_look(ctx_obj(ctx), "cases.listed", cases=len(records), all=every)
    if as_json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    header = ("id", "types", "status", "due", "customer", "lang")
    lines = [(r["id"], ",".join(r["types"]), r["status"].replace("_", " "), r["due_date"],
              r["customer_number"] or "-", r["language"]) for r in records]
    if not sys.stdout.isatty():
        # Piped: one line per case, never wrapped or cut, columns aligned for `column`/awk.
        sizes = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
        for row in [header, *lines]:
            typer.echo("  ".join(v.ljust(w) for v, w in zip(row, sizes, strict=True)).rstrip())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(records)} {'' if every else 'open '}case(s)")
    # What staff act on, readable in 80 columns: nothing is cut ("dsrbot case ID" has the rest).
    widths = {"id": 13, "status": 17, "due": 10}
    for column in header:
        table.add_column(column, no_wrap=column != "types", overflow="fold",
                         min_width=widths.get(column))
    for row in lines:
        table.add_row(row[0], row[1].replace(",", ", "), *row[2:])
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(run)
    app.command()(cases)
    app.add_typer(audit_app, name="audit")
