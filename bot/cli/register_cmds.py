"""Register commands: import CSV, export the register or a mailing list, demo data."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from sqlmodel import Session

from bot.cli.console_identity import ConsoleRefusal, ConsoleUser, check_exact, staff_names
from bot.cli.console_looks import record_look
from bot.cli.context import CliContext, ctx_obj, fail, operator_actor
from handlers import csv_import
from handlers.register_export import Batch, write_csv_dir, write_json, write_label_list
from storage import demo_data
from storage import register as reg
from storage.db import Database

import_app = typer.Typer(no_args_is_help=True, help="Import register CSV files (all or nothing).")
export_app = typer.Typer(no_args_is_help=True, help="Export the register or a mailing list.")


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


class ListPurpose(StrEnum):
    publication = "publication"
    marketing = "marketing"


AsOption = Annotated[str | None, typer.Option(
    "--as", help="Staff member doing this, exactly as named (default: your login name)")]


def _read(path: Path) -> csv_import.CsvText:
    try:
        return csv_import.decode_csv(path.read_bytes())
    except OSError as exc:
        raise fail(f"{path}: cannot read ({exc})") from exc


def _importer(obj: CliContext, session: Session, given: str | None) -> str:
    """The actor of an import: a staff member named exactly by ``--as`` (or mapped from the
    OS user by ``staff.console_users``), else the login name; the OS user is recorded too."""
    user = ConsoleUser.current()
    user.attribute(session)
    name = user.mapped_name(obj.settings.staff.console_users, given)
    if name is None:
        return operator_actor(None)
    names = staff_names(session, obj.settings.chat.staff)
    if not check_exact(name, names):
        raise ConsoleRefusal(f"{name} is not a staff member; nothing was imported")
    if not names[name]:
        raise ConsoleRefusal(f"{name} is not an active staff member; nothing was imported")
    return operator_actor(name)


def _run_import(
    ctx: typer.Context,
    path: Path,
    parse: Callable[[list[str], str | None], list[csv_import.Row]],
    write: Callable[..., reg.ImportResult],
    given: str | None,
    **kwargs: str,
) -> None:
    obj = ctx_obj(ctx)
    text = _read(path)
    try:
        rows = parse(text.lines, text.delimiter)
        with obj.db.session() as session:
            actor = _importer(obj, session, given)
            result = write(session, rows, actor=actor, **kwargs)
    except ConsoleRefusal as exc:
        raise fail(str(exc), exc.code) from exc
    except reg.ImportRowErrors as exc:
        for line in exc.lines():
            typer.echo(f"dsrbot: {path}: {line}", err=True)
        raise fail(f"{path}: {exc.total} bad rows (read as {text.describe()}); "
                   "nothing was imported") from exc
    except csv_import.CsvImportError as exc:
        raise fail(f"{path}: {exc} (read as {text.describe()}); nothing was imported") from exc
    except LookupError as exc:
        raise fail(f"{exc}; nothing was imported") from exc
    typer.echo(f"{path}: {result.created} created, {result.updated} updated "
               f"(read as {text.describe()})")


@import_app.command("customers")
def import_customers(
    ctx: typer.Context,
    path: Path,
    source: Annotated[str, typer.Option(help="Party the data came from")] = "customer",
    actor: AsOption = None,
) -> None:
    """Customers, with exactly the columns the notice's register holds."""
    _run_import(ctx, path, csv_import.parse_customers, reg.import_customers, actor,
                source=source)


@import_app.command("orders")
def import_orders(ctx: typer.Context, path: Path, actor: AsOption = None) -> None:
    """Orders: order_number,customer_number,ordered_at,description,amount."""
    _run_import(ctx, path, csv_import.parse_orders, reg.import_orders, actor)


@import_app.command("invoices")
def import_invoices(ctx: typer.Context, path: Path, actor: AsOption = None) -> None:
    """Invoices: invoice_number,customer_number,order_number,issued_at,due_date,amount,status."""
    _run_import(ctx, path, csv_import.parse_invoices, reg.import_invoices, actor)


def _batches(db: Database) -> Iterator[Batch]:
    with db.read_session() as session:
        for customers in reg.iter_customers(session):
            ids = [c.id for c in customers if c.id is not None]
            orders, invoices = reg.orders_and_invoices(session, ids)
            yield customers, orders, invoices


@export_app.command("register")
def export_register(
    ctx: typer.Context,
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.json,
    output: Annotated[
        Path | None,
        typer.Option(help="JSON: a file (default stdout). CSV: a folder (default ./register-DATE)"),
    ] = None,
) -> None:
    """Every customer with all register fields, orders and invoices."""
    db = ctx_obj(ctx).db
    record_look(ctx_obj(ctx), "register.exported", format=fmt.value)
    if fmt is ExportFormat.json:
        if output is None:
            write_json(_batches(db), sys.stdout)
            return
        with output.open("w", encoding="utf-8") as out:
            count = write_json(_batches(db), out)
        typer.echo(f"{count} customers written to {output}", err=True)
    else:
        folder = output or Path(f"register-{date.today().isoformat()}")
        count = write_csv_dir(_batches(db), folder)
        typer.echo(f"{count} customers written to {folder}/", err=True)


@export_app.command("list")
def export_list(
    ctx: typer.Context,
    purpose: Annotated[ListPurpose, typer.Option("--purpose")],
) -> None:
    """Mailing labels (CSV to stdout) without anyone banned, restricted or anonymised."""
    record_look(ctx_obj(ctx), "list.exported", purpose=purpose.value)
    with ctx_obj(ctx).db.read_session() as session:
        write_label_list(reg.iter_mailing_list(session, purpose.value), sys.stdout)


def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option("--customers", min=1)] = 1000,
    seed: Annotated[int, typer.Option()] = 1,
) -> None:
    """Fill the register with synthetic Finnish-looking customers, orders and invoices."""
    db = ctx_obj(ctx).db
    with Progress(transient=True) as progress:
        task = progress.add_task("demo customers", total=customers)
        with db.session() as session:
            totals = demo_data.generate(
                session, customers, seed=seed, progress=lambda n: progress.advance(task, n)
            )
    typer.echo(", ".join(f"{v} {k}" for k, v in totals.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.command("demo-data")(demo)
