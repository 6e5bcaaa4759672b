"""Who is at the console: `--as` names an active staff member exactly, the OS user is audited
beside it, and `staff.console_users` ties OS users to staff names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from storage.db import Database
from storage.models import AuditEntry, CaseStatus
from tests.helpers import customer_row, run_cli, write_customers_csv
from tests.test_case_engine import _audit, _get, _verified

STAFF = ('[[chat.staff]]\nname = "anna"\nrole = "approver"\n'
         '[[chat.staff]]\nname = "Ville Virtanen"\nrole = "approver"\n')


def _config(tmp_path: Path, db: Database, extra: str = "") -> str:
    cfg = tmp_path / "dsrbot.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n{extra}{STAFF}', encoding="utf-8")
    return str(cfg)


def _as(login: str) -> dict[str, str]:
    """getpass.getuser() reads LOGNAME first."""
    return {"LOGNAME": login, "USER": login}


@pytest.mark.parametrize("name", [" anna", "anna ", "Anna", "ANNA", "anna\u200b", "an\u00adna",
                                  "anna\t", "\u2060anna", "anna\u00a0", "Ville  Virtanen",
                                  "Ville\u00a0Virtanen", "ａｎｎａ"])
def test_console_as_must_match_staff_exactly(db: Database, tmp_path: Path, name: str) -> None:
    cid = _verified(db)
    result = run_cli("--config", _config(tmp_path, db), "approve", cid, "--as", name)
    assert result.exit_code == 1
    assert "not exactly the name of a staff member" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with db.read_session() as s:
        assert _get(s, cid).status == CaseStatus.AWAITING_APPROVAL
    denied = _audit(db, cid)[-1]
    assert (denied.action, denied.details["reason"]) == ("case.denied", "not_exact")


def test_console_as_names_the_invisible_characters_it_refuses(
    db: Database, tmp_path: Path
) -> None:
    cid = _verified(db)
    result = run_cli("--config", _config(tmp_path, db), "assign", cid, "--as", "anna\u200b")
    assert "U+200B" in result.stderr and result.exit_code == 1
    with db.read_session() as s:
        assert _get(s, cid).assignee is None


def test_console_as_keeps_the_spaces_the_stored_name_has(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    result = run_cli("--config", _config(tmp_path, db), "approve", cid, "--as", "Ville Virtanen")
    assert result.exit_code == 0 and result.stdout.strip() == f"{cid} approved by Ville Virtanen"


def test_console_records_the_os_user_beside_the_staff_name(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    result = run_cli("--config", _config(tmp_path, db), "approve", cid, "--as", "anna",
                     env=_as("akorhonen"))
    assert result.exit_code == 0, result.stderr
    approved = [e for e in _audit(db, cid) if e.actor == "staff:anna"]
    assert approved and all(e.details["os_user"] == "akorhonen" for e in approved)


CONSOLE_USERS = '[staff]\nconsole_users = { akorhonen = "anna", vvirtanen = "Ville Virtanen" }\n'


def test_console_users_map_decides_who_a_login_may_act_as(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    cfg = _config(tmp_path, db, CONSOLE_USERS)
    other = run_cli("--config", cfg, "approve", cid, "--as", "anna", env=_as("vvirtanen"))
    assert other.exit_code == 2
    assert other.stderr.strip().splitlines() == [
        "dsrbot: --as 'anna' does not match staff.console_users for OS user 'vvirtanen'; "
        "nothing was changed"]
    stranger = run_cli("--config", cfg, "approve", cid, "--as", "anna", env=_as("mallory"))
    assert stranger.exit_code == 2 and "'mallory' is not in staff.console_users" in stranger.stderr
    with db.read_session() as s:
        assert _get(s, cid).status == CaseStatus.AWAITING_APPROVAL
    denied = [e for e in _audit(db, cid) if e.action == "case.denied"]
    assert [(e.details["reason"], e.details["os_user"]) for e in denied] == [
        ("console_user", "vvirtanen"), ("console_user", "mallory")]
    own = run_cli("--config", cfg, "approve", cid, "--as", "anna", env=_as("akorhonen"))
    assert own.exit_code == 0, own.stderr


def _import_actors(db: Database) -> list[AuditEntry]:
    with db.read_session() as s:
        return list(s.exec(select(AuditEntry).where(
            col(AuditEntry.action).startswith("register.import"))).all())


def test_import_as_must_name_an_active_staff_member_exactly(db: Database,
                                                            tmp_path: Path) -> None:
    cfg = _config(tmp_path, db)
    for name, code in ((" anna", 1), ("mallory", 1), ("anna\u200b", 1)):
        result = run_cli("--config", cfg, "import", "customers",
                         str(write_customers_csv(tmp_path / "c.csv", [customer_row("1")])),
                         "--as", name)
        assert result.exit_code == code, name
        assert "nothing was" in result.stderr
    assert json.loads(run_cli("--config", cfg, "export", "register").stdout) == []
    ok = run_cli("--config", cfg, "import", "customers",
                 str(write_customers_csv(tmp_path / "c.csv", [customer_row("1")])),
                 "--as", "anna", env=_as("akorhonen"))
    assert ok.exit_code == 0, ok.stderr
    (entry,) = _import_actors(db)
    assert (entry.actor, entry.details["os_user"]) == ("operator:anna", "akorhonen")


def test_import_under_console_users_acts_as_the_mapped_staff_member(
    db: Database, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, db, CONSOLE_USERS)
    path = str(write_customers_csv(tmp_path / "c.csv", [customer_row("1")]))
    wrong = run_cli("--config", cfg, "import", "customers", path, "--as", "anna",
                    env=_as("vvirtanen"))
    assert wrong.exit_code == 2
    unmapped = run_cli("--config", cfg, "import", "customers", path, env=_as("mallory"))
    assert unmapped.exit_code == 2
    mapped = run_cli("--config", cfg, "import", "customers", path, env=_as("vvirtanen"))
    assert mapped.exit_code == 0, mapped.stderr
    assert [e.actor for e in _import_actors(db)] == ["operator:Ville Virtanen"]


def test_import_as_an_inactive_staff_member_is_refused(db: Database, tmp_path: Path) -> None:
    from storage.models import Staff

    with db.session() as s:
        s.add(Staff(name="anna", role="approver", active=False))
    path = str(write_customers_csv(tmp_path / "c.csv", [customer_row("1")]))
    result = run_cli("--config", _config(tmp_path, db), "import", "customers", path,
                     "--as", "anna")
    assert result.exit_code == 1 and "not an active staff member" in result.stderr
    assert _import_actors(db) == []


def _staff_audit(db: Database) -> list[AuditEntry]:
    with db.read_session() as s:
        return list(s.exec(select(AuditEntry).where(col(AuditEntry.action).startswith("staff."))
                           .order_by(col(AuditEntry.id))).all())


def test_staff_changes_honour_console_users(db: Database, tmp_path: Path) -> None:
    from storage.models import Staff

    cfg = _config(tmp_path, db, '[staff]\nconsole_users = { akorhonen = "anna", '
                                'eve = "eve" }\n')
    for login, args in (("mallory", ("add", "mallory", "--role", "approver")),
                        ("mallory", ("disable", "anna")),
                        ("mallory", ("totp", "anna")),
                        ("akorhonen", ("add", "mallory", "--role", "approver", "--as",
                                       "Ville Virtanen"))):
        refused = run_cli("--config", cfg, "staff", *args, env=_as(login))
        assert refused.exit_code == 2, (login, args, refused.output)
        assert "staff.console_users" in refused.stderr
    refused = run_cli("--config", cfg, "staff", "passwd", "anna", env=_as("mallory"))
    assert refused.exit_code == 2
    with db.read_session() as s:
        assert s.exec(select(Staff)).all() == []

    added = run_cli("--config", cfg, "staff", "add", "eve", "--role", "viewer",
                    env=_as("akorhonen"))
    assert added.exit_code == 0, added.stderr
    # eve's login is mapped, but a viewer may not make herself (or anyone) an approver.
    escalate = run_cli("--config", cfg, "staff", "add", "eve", "--role", "approver",
                       env=_as("eve"))
    assert escalate.exit_code == 1 and "not an active approver" in escalate.stderr
    with db.read_session() as s:
        assert [(r.name, r.role) for r in s.exec(select(Staff)).all()] == [("eve", "viewer")]

    entries = [(e.action, e.actor, e.details.get("os_user"), e.details.get("reason"))
               for e in _staff_audit(db)]
    assert entries == [
        ("staff.denied", "operator:mallory", "mallory", "console_user"),
        ("staff.denied", "operator:mallory", "mallory", "console_user"),
        ("staff.denied", "operator:mallory", "mallory", "console_user"),
        ("staff.denied", "operator:akorhonen", "akorhonen", "console_user"),
        ("staff.denied", "operator:mallory", "mallory", "console_user"),
        ("staff.added", "operator:anna", "akorhonen", None),
        ("staff.denied", "operator:eve", "eve", "not_approver"),
    ]
