"""The CLI is quick and quiet (issue 20): commands that do not classify never import the
heavy libraries, nothing but the answer reaches the terminal, every command before `dsrbot init`
says so in one line, `cases` shows open cases and does not wrap when piped, and
`tick --dry-run` changes nothing. (Start-up time itself is measured in benchmarks/bench_cli.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import COMMANDS, load_command
from storage.db import Database
from storage.models import MODULES, CaseStatus
from tests import scheduler_kit as kit
from tests.helpers import run_cli

#: What only classifying, running the service, mailing, signing or rendering letters needs.
#: ``dsrbot --help``, ``status``, ``cases`` and ``case`` need none of it (issue 20: under 0.5 s).
HEAVY = ("spacy", "thinc", "nlp_models", "telegram", "httpx", "aiohttp", "imapclient",
         "apscheduler", "alembic", "pyhanko", "cryptography", "pysequoia", "dkim", "fpdf",
         "jinja2", "babel", "holidays", "dateutil", "phonenumbers", "email_validator",
         "simplemma", "starlette", "uvicorn", "prometheus_client", "argon2", "aiosmtpd",
         "aiosmtplib", "msal", "google")
PROBE = """
import json, sys
from bot.cli import main
sys.argv = ["dsrbot", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
"""


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, check=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///var/dsrbot.db"\n',
                                          encoding="utf-8")
    return tmp_path


def _database(home: Path) -> Database:
    return Database(f"sqlite:///{home / 'var' / 'dsrbot.db'}")


@pytest.mark.parametrize("args", [["--help"], ["status"], ["cases"], ["case", "CASE"]])
def test_quick_commands_never_import_spacy_or_telegram(home: Path, args: list[str]) -> None:
    """The real command in a fresh interpreter, against an initialised database holding a
    case, so ``case`` takes its full path (trail, identity summary, due date)."""
    case_id, _ = _two_cases(home)
    args = [case_id if a == "CASE" else a for a in args]
    probe = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=home,
                           text=True, capture_output=True, timeout=120, check=False)
    marker = [ln for ln in probe.stderr.splitlines() if ln.startswith("HEAVY=")]
    assert marker, probe.stderr
    assert json.loads(marker[0].removeprefix("HEAVY=")) == []
    # The command did its work (not a failure path that imports less), and said nothing else.
    shows = {"--help": "Usage:", "status": "open cases: 1 (", "cases": case_id, "case": case_id}
    assert shows[args[0]] in probe.stdout
    assert probe.stderr == marker[0] + "\n"


GC_PROBE = """
import gc, sys
import bot.cli.admin_cmds as cmds
seen = []
real = cmds.list_cases
cmds.list_cases = lambda session: (seen.append(gc.isenabled()), real(session))[1]
from bot.cli import main
sys.argv = ["dsrbot", "cases"]
try:
    main()
except SystemExit:
    pass
print("GC=" + repr(seen))
"""


def test_the_command_itself_runs_with_the_garbage_collector_on(home: Path) -> None:
    """main() switches the cyclic GC off only while the CLI and the command's module are
    imported (start-up time); a long command (``run``, ``ingest``) must still collect."""
    assert _cli(home, "init").returncode == 0
    probe = subprocess.run([sys.executable, "-c", GC_PROBE], cwd=home, text=True,
                           capture_output=True, timeout=120, check=False,
                           env={**os.environ, "DSRBOT_CLI_QUICK": "0"})  # the full path
    assert "GC=[True]" in probe.stdout, probe.stdout + probe.stderr


@pytest.mark.parametrize("module", MODULES)
def test_each_table_module_brings_the_tables_its_foreign_keys_name(module: str) -> None:
    """storage.models loads a table module on first use. A process that imported only this
    one must still be able to write its rows: a flush resolves every foreign key of the
    tables it writes (as ``sort_tables`` does here), and fails on a table it cannot find."""
    code = (f"import storage.models.{module}\n"
            "from sqlalchemy.schema import sort_tables\n"
            "from sqlmodel import SQLModel\n"
            "sort_tables(SQLModel.metadata.tables.values())\n")
    result = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_help_lists_each_command_with_its_own_summary() -> None:
    """--help prints COMMANDS' summaries without importing the modules; they must not drift
    from the commands' own help."""
    for name, (_module, summary) in COMMANDS.items():
        command = load_command(name)
        assert command is not None, name
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert own.startswith(summary.rstrip(".")), (name, own, summary)


@pytest.mark.parametrize("args", [
    ["status"], ["cases"], ["case", "DSR-2026-0001"], ["tick"], ["export", "register"],
    ["audit", "verify"], ["audit", "checkpoint"], ["demo-data"],
    ["approve", "DSR-2026-0001", "--as", "aino"],
])
def test_every_command_before_init_says_run_init_first(home: Path, args: list[str]) -> None:
    result = _cli(home, *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "run `dsrbot init` first" in result.stderr
    assert not (home / "var" / "dsrbot.db").exists()  # asking created nothing


def test_init_and_status_print_no_warnings_or_alembic_lines(home: Path) -> None:
    init = _cli(home, "init")
    assert init.returncode == 0
    assert init.stderr == ""
    assert init.stdout.splitlines() == [init.stdout.strip()]
    assert init.stdout.startswith("database ready: revision ")
    status = _cli(home, "status")
    # Exit 1: the service is not running here (dsrbot status's monitor contract, issue 15).
    assert status.returncode == 1 and status.stderr == ""
    assert "INFO" not in status.stdout and "Warning" not in status.stdout


def _two_cases(home: Path) -> tuple[str, str]:
    assert _cli(home, "init").returncode == 0
    db = _database(home)
    try:
        received = datetime(2026, 11, 24, 9, tzinfo=UTC)
        open_id = kit.open_case(db, received, types=("access", "erasure", "portability",
                                                     "rectification", "restriction"))
        closed_id = kit.open_case(db, received, status=CaseStatus.REFUSED)
    finally:
        db.dispose()
    return open_id, closed_id


def test_cases_lists_open_cases_unless_all_is_given(home: Path) -> None:
    open_id, closed_id = _two_cases(home)
    default = _cli(home, "cases")
    assert open_id in default.stdout and closed_id not in default.stdout
    every = _cli(home, "cases", "--all")
    assert open_id in every.stdout and closed_id in every.stdout
    ids = [c["id"] for c in json.loads(_cli(home, "cases", "--json").stdout)]
    assert ids == [open_id]


def test_cases_never_wraps_when_piped(home: Path) -> None:
    open_id, _ = _two_cases(home)
    lines = _cli(home, "cases").stdout.splitlines()
    assert lines[0].split() == ["id", "types", "status", "due", "customer", "lang"]
    row = next(ln for ln in lines if open_id in ln)
    assert "access,erasure,portability,rectification,restriction" in row
    assert len(lines) == 2  # header + the one open case, each on one line


def test_tick_dry_run_prints_what_would_be_done_and_changes_nothing(home: Path) -> None:
    assert _cli(home, "init").returncode == 0
    db = _database(home)
    try:
        case_id = kit.open_case(db, datetime(2026, 11, 24, 9, tzinfo=UTC))
        moment = kit.local("2026-12-29", 9).isoformat()  # overdue: an escalation is owed
        dry = run_cli("--config", str(home / "config.toml"), "tick", "--now", moment,
                      "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert "nothing changed" in dry.output and case_id in dry.output
        assert kit.claims(db) == [] and kit.chat_rows(db) == []
        real = run_cli("--config", str(home / "config.toml"), "tick", "--now", moment)
        assert real.exit_code == 0
        assert [c.case_id for c in kit.claims(db)] != []
    finally:
        db.dispose()
