"""The ``dsrbot`` command's full path: one Typer app; each command group in its own module.

Command modules are imported only when their command runs: ``dsrbot status`` must not pay for
spaCy, python-telegram-bot or the IMAP client (seconds of start-up) that only ``run`` and
``classify`` need. ``--help`` lists the commands from :data:`COMMANDS` without importing them;
tests/test_cli_quick.py checks that each summary there is the command's own first help line.
"""

from __future__ import annotations

import gc
import importlib
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from bot.cli.context import CliContext
from bot.cli.errors import OneLineErrors

# name -> (module under bot.cli, one-line summary shown by --help), in --help order.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("admin_cmds", "Create or upgrade the database schema (safe to run again)."),
    "run": ("admin_cmds", "Run the service on the configured channels until SIGTERM or SIGINT."),
    "doctor": ("doctor_cmds", "Check everything the configuration enables, one line per check."),
    "status": ("status_cmds", "What runs, the queues, the next deadline, the canary and health."),
    "cases": ("admin_cmds", "List open cases (--all: every case)."),
    "case": ("case_cmds", "Show one case: status, due date, reasons and its audit trail."),
    "approve": ("case_cmds", "Approve a case (a repeat reports who approved it and changes "
                             "nothing)."),
    "refuse": ("case_cmds", "Refuse a case with the reason the refusal letter states."),
    "extend": ("case_cmds", "Extend by two months (only within the first month); the requester "
                            "is sent a notice."),
    "assign": ("case_cmds", "Take a case: it is assigned to NAME."),
    "apply-ban": ("case_cmds", "Apply the marketing or publication ban a case asks for (one "
                               "tap for staff)."),
    "resend": ("case_cmds", "Send a bounced answer again, to the customer's corrected "
                            "registered address only."),
    "delivered": ("case_cmds", "Close a bounced case after delivering its answer another way "
                               "(e.g. by post)."),
    "deadline": ("case_cmds", "Print `RECEIVED DUE` per date: one month (three when extended), "
                              "rolled to a working day."),
    "tick": ("tick_cmds", "Run every periodic job once: reminders, escalations, identity-code "
                          "expiry, retention, digest."),
    "import": ("register_cmds", "Import register CSV files (all or nothing)."),
    "export": ("register_cmds", "Export the register or a mailing list."),
    "demo-data": ("register_cmds", "Fill the register with synthetic Finnish-looking customers, "
                                   "orders and invoices."),
    "ingest": ("ingest_cmds", "Import a mail backlog through the same inbox and pipeline as "
                              "live mail."),
    "audit": ("admin_cmds", "The hash-chained audit log."),
    "classify": ("nlp_cmds", "Classify one mail (prints one JSON object) or a JSONL file (one "
                             "JSON line per input)."),
    "nlp": ("nlp_cmds", "Train and evaluate the classifier."),
    "purge": ("purge_cmds", "Purge stored mail, outbox files and closed case files past "
                            "retention.* (see README)."),
    "staff": ("staff_cmds", "Web desk logins for named staff: add, passwd, disable, totp."),
}


def load_command(name: str) -> Any:
    """Import the module that defines ``name`` and return its Click command (or group)."""
    module = importlib.import_module(f"bot.cli.{COMMANDS[name][0]}")
    holder = typer.Typer()
    module.register(holder)
    built = typer.main.get_command(holder)
    if isinstance(built, TyperGroup):
        return built.get_command(typer.Context(built), name)
    return built


class LazyCommands(OneLineErrors):
    """A group whose commands are imported on first use; help lists them from COMMANDS."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if ctx.resilient_parsing or _listing(ctx):
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1])
        command = load_command(cmd_name)
        if not gc.isenabled():  # main() turned it off for the imports
            gc.freeze()
            gc.enable()
        return command


def _listing(ctx: Any) -> bool:
    """True while the root's own --help is printed (no subcommand chosen)."""
    return bool(getattr(ctx, "meta", {}).get("dsrbot.listing"))


class _Root(LazyCommands):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        ctx.meta["dsrbot.listing"] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta["dsrbot.listing"] = False


app = typer.Typer(
    name="dsrbot", cls=_Root, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
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


def quiet_warnings() -> None:
    """Library deprecation notices are for us, not for operators: keep them off stderr.

    (cryptography warns about algorithms pyhanko/pgpy still reference; nothing we can act on
    at the console.) ``python -W`` / PYTHONWARNINGS still show them when someone wants them.
    """
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*Deprecat.*")


def main() -> None:
    import sys

    if not sys.warnoptions:
        quiet_warnings()
    # Start-up time (issue 20: the quick commands under 0.5 s). The imports build ~70,000
    # objects that live as long as the process; collecting among them finds nothing. So the
    # cyclic GC is off while the CLI and the chosen command's module are imported; then they
    # are frozen (moved out of every later collection) and the GC runs as usual for the
    # command's own work, however long (`run`, `ingest`). LazyCommands.get_command switches it
    # back on.
    gc.disable()
    try:
        app()
    finally:
        # The process ends here. Its last collections would walk and tear down everything
        # built since: ~0.15 s CPU of `dsrbot status` (load ~3). Frozen, it is left to the OS.
        # Nothing is lost: the command has returned, the database engine is disposed
        # (CliContext.close), and atexit handlers (logging's flush among them) still run.
        gc.freeze()
