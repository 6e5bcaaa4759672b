"""The quick console path (bot.cli.quick) answers `status`, `cases` and `case` exactly as the
full path would, or not at all (issue 20: under 0.5 s).

Each comparison runs the real command twice in a fresh interpreter, once with the quick path
off (``DSRBOT_CLI_QUICK=0``) and once with only the quick path (``only``: it must answer, not
fall back), each on its own copy of the same database, so the look each one audits does not
show in the other's output; then it compares the two outputs, exit codes and audit entries.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from bot.cli.quick import EXIT_DECLINED
from bot.cli.quick.case_answer import CASE_COLUMNS, CUSTOMER_COLUMNS, TRAIL_COLUMNS
from bot.cli.quick.db import DAYS, DOCUMENTS, FLAGS, MOMENTS
from bot.cli.quick.reads import LISTED
from handlers.representation_view import CHECKED
from storage import audit
from storage.cases import get_case
from storage.db import Database
from storage.models import (
    CanaryProbe,
    CaseStatus,
    ChatNotification,
    HealthIncident,
    InboundMessage,
    InboundState,
    OutboundMessage,
    OutboundState,
    load_all,
)
from tests import scheduler_kit as kit

KEY = "k" * 40
CANARY_CONFIG = """
[mail.outgoing]
backend = "smtp"
host = "127.0.0.1"
port = 2525
[health]
canary_interval_minutes = 15
canary_alert_minutes = 20
"""


def _cli(cwd: Path, *args: str, quick: str = "1", env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={**os.environ, **(env or {}), "DSRBOT_CLI_QUICK": quick})


def _config(home: Path, extra: str = "") -> None:
    (home / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///var/dsrbot.db"\n{extra}', encoding="utf-8")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    _config(tmp_path, CANARY_CONFIG)
    assert _cli(tmp_path, "init").returncode == 0
    return tmp_path


def _busy_register(home: Path) -> dict[str, str]:
    """Cases in every state a view words differently, and every queue and health fact."""
    db = Database(f"sqlite:///{home / 'var' / 'dsrbot.db'}")
    now = datetime.now(UTC)
    try:
        ids = {"awaiting_code": kit.case_awaiting_code(db, now - timedelta(hours=3),
                                                       number="A-100")}
        ids["verified"] = kit.open_case(db, now - timedelta(days=40), types=("access", "erasure"),
                                        assignee="anna")
        ids["represented"] = kit.open_case(db, now - timedelta(days=2), types=("portability",))
        ids["bounced"] = kit.open_case(db, now - timedelta(days=20))
        ids["refused"] = kit.open_case(db, now - timedelta(days=9), status=CaseStatus.REFUSED)
        with db.session() as s:
            verified = kit.add_customer(s, "A-200", email="verified@example.fi")
            bounced = kit.add_customer(s, "A-300", email="gone@example.fi")
            bounced.email_undeliverable_at = now - timedelta(days=1)
            bounced.email_undeliverable_status = "5.1.1"
            s.flush()
            case = get_case(s, ids["verified"])
            assert case is not None
            case.customer_id, case.verification_level = verified.id, "verified"
            case.extended, case.extended_due_date = True, date.today() + timedelta(days=30)
            case.extension_reason = "many requests at once (Art. 12(3))"
            case.claimed_earlier = date.today() - timedelta(days=60)
            case.reasons = ["Ä reason with a non-ASCII letter", "second reason"]
            audit.record(s, "staff:anna", "identity.verified_by_staff", case_id=case.id,
                         details={"reason": "called the registered number"})
            case = get_case(s, ids["represented"])
            assert case is not None
            case.on_behalf_of, case.authority = "lawyer@example.com", CHECKED
            case.authority_by, case.authority_at = "staff:anna", now - timedelta(hours=1)
            case.authority_document, case.answer_to_representative = "valtakirja.pdf", True
            case.details = {"representation": {"person": "Maija Meikäläinen", "documents": [
                {"name": "valtakirja.pdf", "type": "application/pdf", "size": 1200}]}}
            case = get_case(s, ids["bounced"])
            assert case is not None
            case.customer_id, case.status = bounced.id, CaseStatus.DELIVERY_FAILED.value
            s.add(InboundMessage(channel="smtp", raw=b"x", sha256="1" * 64,
                                 received_at=now - timedelta(hours=2),
                                 state=InboundState.RECEIVED.value, message_id="<a@x>"))
            s.add(InboundMessage(channel="smtp", raw=b"y", sha256="2" * 64, received_at=now,
                                 state=InboundState.QUARANTINED.value, message_id="<b@x>"))
            s.add(OutboundMessage(message_id="<o1@x>", recipient="a@example.fi", subject="s",
                                  body_text="b", kind="answer", state=OutboundState.FAILED.value,
                                  next_attempt_at=now - timedelta(hours=1), last_error="550",
                                  created_at=now))
            s.add(OutboundMessage(message_id="<o2@x>", recipient="b@example.fi", subject="s",
                                  body_text="b", kind="answer", state=OutboundState.PENDING.value,
                                  next_attempt_at=now, created_at=now))
            s.add(ChatNotification(kind="case", case_id=ids["represented"], payload={},
                                   next_attempt_at=now, created_at=now))
            s.add(CanaryProbe(slot=1, token_hash="a" * 64, created_at=now - timedelta(hours=5),
                              arrived_at=now - timedelta(hours=5) + timedelta(seconds=42),
                              round_trip_seconds=42.5))
            s.add(CanaryProbe(slot=2, token_hash="b" * 64, created_at=now - timedelta(hours=1)))
            s.add(HealthIncident(kind="silence", open_key="silence", detail="no mail for 3 h",
                                 opened_at=now - timedelta(hours=3)))
    finally:
        db.dispose()
    return ids


def _entries(home: Path, after: int) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "var" / "dsrbot.db") as conn:
        rows = conn.execute("SELECT actor, action, case_id, customer_number, details "
                            "FROM auditentry WHERE id > ? ORDER BY id", (after,)).fetchall()
    return [(a, b, c, d, json.loads(e)) for a, b, c, d, e in rows]


def _both(home: Path, *args: str, env: dict[str, str] | None = None
          ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """The full path's and the quick path's answer, each on a copy of the same database."""
    full = _cli(home, *args, quick="0", env=env)  # also leaves the settings snapshot
    db = home / "var" / "dsrbot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(db, home / "before.db")
    head = len(_entries(home, 0))
    full = _cli(home, *args, quick="0", env=env)
    full_entries = _entries(home, head)
    shutil.copy(home / "before.db", db)
    quick = _cli(home, *args, quick="only", env=env)
    assert _entries(home, head) == full_entries
    return full, quick


@pytest.mark.parametrize("args", [
    ["status"], ["status", "--json"], ["cases"], ["cases", "--all"], ["cases", "--json"],
    ["cases", "--all", "--json"],
    *(["case", name] for name in ("awaiting_code", "verified", "represented", "bounced",
                                  "refused")),
    ["case", "represented", "--json"], ["case", "verified", "--json"],
])
def test_quick_path_prints_what_the_full_path_prints(home: Path, args: list[str]) -> None:
    ids = _busy_register(home)
    args = [ids.get(a, a) for a in args]
    if args[0] == "case":
        args[1] = f"[{args[1].lower()}]"  # as pasted from a subject line
    full, quick = _both(home, *args)
    assert quick.returncode != EXIT_DECLINED, quick.stderr
    assert (quick.stdout, quick.stderr, quick.returncode) == (
        full.stdout, full.stderr, full.returncode)
    assert full.stdout.strip()


def test_status_facts_are_all_shown_by_the_quick_path(home: Path) -> None:
    """The busy register is degraded for every reason the verdict knows (so the comparison
    above covers each wording), and the quick path says so."""
    _busy_register(home)
    _, quick = _both(home, "status", "--json")
    data = json.loads(quick.stdout)
    problems = " | ".join(data["health"]["problems"])
    for reason in ("canary late", "no mail arriving", "outbox failing: 1", "bounces unhandled: 1",
                   "oldest unprocessed message waits"):
        assert reason in problems
    assert data["canary"]["last_round_trip_seconds"] == 42.5
    assert data["queues"]["inbound_quarantined"] == 1 and data["queues"]["chat_pending"] == 1
    assert data["health"]["overdue_cases"] == 0 and data["open_cases"]["delivery_failed"] == 1


def test_a_quick_look_is_audited_in_the_keyed_chain_and_the_chain_verifies(home: Path) -> None:
    ids = _busy_register(home)
    env = {"DSRBOT_AUDIT__KEY": KEY}
    full, quick = _both(home, "case", ids["verified"], env=env)
    assert quick.returncode == 0 and quick.stdout == full.stdout
    with sqlite3.connect(home / "var" / "dsrbot.db") as conn:
        action, digest = conn.execute(
            "SELECT action, hash FROM auditentry ORDER BY id DESC LIMIT 1").fetchone()
    assert action == "case.viewed" and digest.startswith("hmac:")
    verify = _cli(home, "audit", "verify", quick="0", env=env)
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr
    # Without the key the quick path writes nothing to a keyed chain: it declines.
    assert _cli(home, "cases", quick="0").returncode != 0  # the full path refuses, too
    assert _cli(home, "cases", quick="only").returncode == EXIT_DECLINED


def test_the_quick_path_never_answers_from_a_stale_snapshot(home: Path) -> None:
    ids = _busy_register(home)
    assert _cli(home, "status", quick="0").returncode in (1, 3)
    assert _cli(home, "status", quick="only").returncode != EXIT_DECLINED
    before = json.loads(_cli(home, "case", ids["verified"], "--json", quick="only").stdout
                        )["identity_events"]
    _config(home, CANARY_CONFIG + '[organisation]\ntimezone = "America/New_York"\n')
    stale = _cli(home, "status", quick="only")
    assert stale.returncode == EXIT_DECLINED and "snapshot" in stale.stderr
    assert _cli(home, "status", quick="only", env={"DSRBOT_PIPELINE__WORKERS": "3"}
                ).returncode == EXIT_DECLINED  # another environment: another snapshot
    # The default path falls back to the full one, which words times in the new time zone
    # (and leaves a fresh snapshot the quick path then uses, with the new zone).
    events = [json.loads(_cli(home, "case", ids["verified"], "--json", quick=q).stdout)
              ["identity_events"] for q in ("1", "0", "only")]
    assert events[0] == events[1] == events[2] and events[0] != before


@pytest.mark.parametrize("args", [["status", "--help"], ["cases", "--open"], ["case"],
                                  ["case", "DSR-2026-9999"], ["approve", "X", "--as", "a"]])
def test_the_quick_path_declines_what_it_cannot_answer_exactly(home: Path,
                                                               args: list[str]) -> None:
    _busy_register(home)
    _cli(home, "status", quick="0")
    declined = _cli(home, *args, quick="only")
    assert declined.returncode == EXIT_DECLINED and declined.stdout == ""
    fallback, full = _cli(home, *args), _cli(home, *args, quick="0")
    assert (fallback.stdout, fallback.stderr, fallback.returncode) == (
        full.stdout, full.stderr, full.returncode)


def test_an_os_user_outside_console_users_is_refused_as_on_the_full_path(home: Path) -> None:
    _config(home, CANARY_CONFIG + '[staff]\nconsole_users = { "nobody-here" = "anna" }\n')
    _busy_register(home)
    refused = _cli(home, "cases", quick="0")
    assert refused.returncode == 2 and "console_users" in refused.stderr
    assert _cli(home, "cases", quick="only").returncode == EXIT_DECLINED
    again = _cli(home, "cases")
    assert (again.stderr, again.returncode) == (refused.stderr, refused.returncode)


def test_the_settings_snapshot_never_holds_a_secret(home: Path) -> None:
    secret_env = {"DSRBOT_AUDIT__KEY": KEY, "DSRBOT_MAIL__OUTGOING__PASSWORD": "hunter2-smtp"}
    _busy_register(home)
    assert _cli(home, "status", quick="0", env=secret_env).returncode in (1, 3)
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "dsrbot"
    written = [p.read_text(encoding="utf-8") for p in cache.glob("cli-*.json")]
    assert any(str(home) in text for text in written)
    assert not any(KEY in text or "hunter2" in text for text in written)
    # Changing a secret's value is not seen in the stamp, but the key is read afresh.
    assert _cli(home, "status", quick="only", env={**secret_env, "DSRBOT_AUDIT__KEY": "short"}
                ).returncode == EXIT_DECLINED


def test_the_quick_path_loads_neither_the_orm_nor_pydantic_nor_typer(home: Path) -> None:
    ids = _busy_register(home)
    probe = ("import sys\nfrom bot.cli import main\nsys.argv = ['dsrbot', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
             "heavy = {'sqlalchemy', 'sqlmodel', 'pydantic', 'pydantic_settings', 'typer'}\n"
             "print('LOADED=' + ','.join(sorted(heavy & {m.split('.')[0] for m in sys.modules})),"
             " 'CODE=' + str(code), file=sys.stderr)\n")
    for args in (["status"], ["cases"], ["case", ids["verified"]]):
        _cli(home, *args, quick="0")
        run = subprocess.run([sys.executable, "-c", probe, *args], cwd=home, text=True,
                             capture_output=True, timeout=120, check=False,
                             env={**os.environ, "DSRBOT_CLI_QUICK": "only"})
        assert "LOADED= CODE=" in run.stderr, run.stderr
        assert run.stderr.rsplit("CODE=", 1)[1].strip() == "None"  # answered, exit 0


def test_every_column_the_quick_path_reads_exists_with_the_type_it_assumes() -> None:
    load_all()
    kinds = {"UTCDateTime": MOMENTS, "Date": DAYS, "Boolean": FLAGS, "JSON": DOCUMENTS}
    for table, columns in (("case", CASE_COLUMNS), ("case", LISTED), ("auditentry",
                           TRAIL_COLUMNS), ("customer", CUSTOMER_COLUMNS)):
        model = SQLModel.metadata.tables[table]
        for name in columns:
            assert name in model.columns, (table, name)
            kind = type(model.columns[name].type).__name__
            for type_name, names in kinds.items():
                assert (kind == type_name) == (name in names), (table, name, kind)


def test_the_quick_paths_copies_of_full_path_constants_agree() -> None:
    """Three values the quick path keeps its own copy of (their homes load the ORM or
    pydantic): the purged-forward marker, the shortest audit key, the secret setting names."""
    from bot.cli.quick import look, reads, snapshot
    from bot.settings import MIN_AUDIT_KEY_CHARS, SECRET_KEYS
    from storage import mail_copies

    assert reads.NOT_SENT == mail_copies.NOT_SENT
    assert look.MIN_AUDIT_KEY_CHARS == MIN_AUDIT_KEY_CHARS
    assert {k.upper() for k in SECRET_KEYS} == snapshot.SECRET_PARTS
