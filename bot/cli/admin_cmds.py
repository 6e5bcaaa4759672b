"""Operating commands: init, run, audit verify/checkpoint, cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.cases_view import case_records, print_cases
from bot.cli.console_looks import record_look
from bot.cli.context import EXIT_CONFIG, ctx_obj, fail
from storage import audit
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
    from bot.cli.quick.remember import remember_for_quick

    obj = ctx_obj(ctx)
    remember_for_quick(obj)
    with obj.db.read_session() as session:
        records = case_records(list_cases(session), every)
    if records:
        record_look(obj, "cases.listed", cases=len(records), all=every)
    print_cases(records, as_json=as_json, every=every)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(run)
    app.command()(cases)
    app.add_typer(audit_app, name="audit")
