"""Every look at personal data from the console leaves an entry in the audit trail, attributed to
the person at the console, written before anything is shown; under ``staff.console_users`` a
login outside the map sees nothing."""

from __future__ import annotations

from pathlib import Path

from storage import audit
from storage.db import Database
from tests.db_reads import audit_actions
from tests.helpers import run_cli
from tests.test_case_engine import _verified
from tests.test_console_identity import _as, _config

CONSOLE_USERS = '[staff]\nconsole_users = { akorhonen = "anna" }\n'


def test_console_look_at_a_case_is_audited_with_who_looked(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    shown = run_cli("--config", _config(tmp_path, db), "case", cid, env=_as("akorhonen"))
    assert shown.exit_code == 0, shown.stderr
    assert "maija@example.fi" in shown.stdout
    looks = audit_actions(db, "case.viewed")
    assert [(e.case_id, e.actor) for e in looks] == [(cid, "operator:akorhonen")]
    assert looks[0].details == {"channel": "console", "personal_data": True,
                                "os_user": "akorhonen"}
    assert looks[0].customer_number == "10001"
    with db.read_session() as s:
        assert audit.verify(s).ok


def test_console_look_is_attributed_to_the_staff_member_the_login_maps_to(
    db: Database, tmp_path: Path
) -> None:
    cid = _verified(db)
    cfg = _config(tmp_path, db, CONSOLE_USERS)
    assert run_cli("--config", cfg, "case", cid, env=_as("akorhonen")).exit_code == 0
    assert run_cli("--config", cfg, "cases", env=_as("akorhonen")).exit_code == 0
    assert [e.actor for e in audit_actions(db, "case.viewed")] == ["operator:anna"]
    listed = audit_actions(db, "cases.listed")
    assert [(e.actor, e.details["cases"]) for e in listed] == [("operator:anna", 1)]


def test_console_login_outside_console_users_sees_no_personal_data(
    db: Database, tmp_path: Path
) -> None:
    cid = _verified(db)
    cfg = _config(tmp_path, db, CONSOLE_USERS)
    for args in (("case", cid), ("cases",), ("export", "register"),
                 ("export", "list", "--purpose", "marketing")):
        result = run_cli("--config", cfg, *args, env=_as("intruder"))
        assert result.exit_code == 2, args
        assert "not in staff.console_users" in result.stderr
        assert "maija" not in result.stdout, args
    assert audit_actions(db, "case.viewed") == []


def test_console_exports_of_the_register_are_audited(db: Database, tmp_path: Path) -> None:
    _verified(db)
    cfg = _config(tmp_path, db)
    exported = run_cli("--config", cfg, "export", "register", env=_as("akorhonen"))
    assert exported.exit_code == 0 and "maija@example.fi" in exported.stdout
    labels = run_cli("--config", cfg, "export", "list", "--purpose", "marketing",
                     env=_as("akorhonen"))
    assert labels.exit_code == 0, labels.stderr
    assert [(e.actor, e.details["format"]) for e in audit_actions(db, "register.exported")] == [
        ("operator:akorhonen", "json")]
    assert [e.details["purpose"] for e in audit_actions(db, "list.exported")] == ["marketing"]
