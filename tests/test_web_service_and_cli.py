"""The desk as part of ``dsrbot run``, its settings, and the ``dsrbot staff`` commands."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.settings import load_settings
from handlers.csv_safe import safe_cell
from storage.db import Database
from storage.models import AuditEntry, Staff
from storage.staff_logins import StaffLogin
from tests import run_kit
from tests import web_kit as kit


def test_desk_is_on_by_default_on_loopback_port_8026(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSRBOT_WEB__PORT", raising=False)
    web = load_settings(None).web
    assert (web.enabled, web.host, web.port) == (True, "127.0.0.1", 8026)


def test_desk_cookie_key_is_refused_in_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[web]\nsecret_key = "abc"\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"web\.secret_key: secrets may not be written"):
        load_settings(cfg)


def test_dsrbot_run_serves_the_login_page(tmp_path: Path) -> None:
    smtp, web = run_kit.free_port(), run_kit.free_port()
    cfg = run_kit.write_config(tmp_path, port=smtp)
    run_kit.dsrbot(cfg, "init")
    proc = run_kit.start_service(cfg, tmp_path / "log", env={"DSRBOT_WEB__PORT": str(web)})
    try:
        def answer() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/login", timeout=5) as r:
                    return str(r.read().decode())
            except OSError:
                return None
        page = run_kit.wait_for(answer, timeout=60, message="the desk did not answer")
        assert 'name="username"' in page and 'name="csrf_token"' in page
    finally:
        assert run_kit.stop_service(proc) == 0


def test_dsrbot_run_refuses_to_start_when_the_desk_port_is_taken(tmp_path: Path) -> None:
    cfg = run_kit.write_config(tmp_path, port=run_kit.free_port())
    run_kit.dsrbot(cfg, "init")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_kit.start_service(cfg, tmp_path / "log", env={"DSRBOT_WEB__PORT": str(port)})
        assert proc.wait(timeout=60) == 2
    assert f"web.port: cannot listen on 127.0.0.1:{port}" in (tmp_path / "log").read_text()


# --- dsrbot staff ------------------------------------------------------------------------------


@pytest.fixture
def cfg(tmp_path: Path, sqlite_db: Database) -> Path:
    return kit.write_settings(tmp_path, sqlite_db)[0]


def test_staff_passwd_reads_stdin_and_stores_only_an_argon2id_hash(
        cfg: Path, sqlite_db: Database) -> None:
    kit.add_staff(cfg, "aino", "approver")
    with sqlite_db.read_session() as s:
        login = s.exec(select(StaffLogin)).one()
        entries = s.exec(select(AuditEntry).where(col(AuditEntry.action).like("staff.%"))).all()
    assert login.password_hash.startswith("$argon2id$")
    assert kit.PASSWORD not in login.password_hash
    assert [e.action for e in entries] == ["staff.added", "staff.password_set"]
    assert all(kit.PASSWORD not in str(e.details) for e in entries)


def test_a_short_password_is_refused_and_nothing_changes(cfg: Path, sqlite_db: Database) -> None:
    kit.dsrbot(cfg, "staff", "add", "aino", "--role", "viewer")
    result = kit.dsrbot(cfg, "staff", "passwd", "aino", stdin="short\n")
    assert result.exit_code == 1 and "at least 12 characters" in result.output
    with sqlite_db.read_session() as s:
        assert s.exec(select(StaffLogin)).one().password_hash == ""


def test_passwd_for_someone_not_on_the_staff_is_refused(cfg: Path) -> None:
    result = kit.dsrbot(cfg, "staff", "passwd", "mallory", stdin=kit.PASSWORD + "\n")
    assert result.exit_code == 1 and "not a staff member" in result.output


def test_configured_staff_can_get_a_login_and_be_disabled(
        cfg: Path, sqlite_db: Database) -> None:
    kit.set_password(cfg, "cfgviewer")
    settings = load_settings(cfg)
    with kit.client(settings, sqlite_db) as web:
        kit.login(web, "cfgviewer")
        assert "cfgviewer · viewer" in web.get("/cases").text
        assert kit.dsrbot(cfg, "staff", "disable", "cfgviewer").exit_code == 0
        assert web.get("/cases").status_code == 303
    with sqlite_db.read_session() as s:
        row = s.exec(select(Staff).where(col(Staff.name) == "cfgviewer")).one()
    assert (row.role, row.active) == ("viewer", False)
    listing = kit.dsrbot(cfg, "staff", "list").output
    assert "cfgviewer\tviewer\tdisabled\tpassword\tpassword set" in listing


# --- CSV cells -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("-12", "-12"),
    ("+3.5", "+3.5"),
    ("+358401234567", "+358401234567"),
    ("Maija", "Maija"),
    (42, "42"),
    (None, ""),
])
def test_csv_cells_never_start_a_formula_but_numbers_and_phones_stay(
        value: object, expected: str) -> None:
    assert safe_cell(value) == expected


# --- reporting figures -------------------------------------------------------------------------


def test_report_counts_speed_and_punctuality_per_month() -> None:
    from datetime import UTC, date, datetime

    from handlers.desk_report import CaseFacts, build_report

    def facts(received: str, closed: str | None, due: str, types: tuple[str, ...] = ("access",),
              status: str = "done", language: str = "fi") -> CaseFacts:
        at = datetime.fromisoformat(received).replace(tzinfo=UTC)
        done = datetime.fromisoformat(closed).replace(tzinfo=UTC) if closed else None
        return CaseFacts(types, language, status, at, date.fromisoformat(due), done)

    report = build_report([
        facts("2026-03-02T10:00", "2026-03-07T10:00", "2026-04-02"),
        facts("2026-03-03T10:00", "2026-03-13T10:00", "2026-04-03", ("erasure",), language="en"),
        facts("2026-03-04T10:00", "2026-04-13T10:00", "2026-04-06"),  # late
        facts("2026-04-01T10:00", None, "2026-05-04", status="awaiting_approval"),
    ], open_statuses=["awaiting_approval"], tz="UTC")
    march, april = report.months
    assert (march.month, march.requests, march.closed, march.on_time) == ("2026-03", 3, 3, 2)
    assert (march.median_days, march.p90_days) == (10.0, 40.0)
    assert march.by_type == {"access": 2, "erasure": 1}
    assert march.by_language == {"fi": 2, "en": 1}
    assert (april.requests, april.closed, april.on_time_rate) == (1, 0, None)
    assert report.open_by_status == {"awaiting_approval": 1}
    assert report.total.requests == 4 and report.total.on_time_rate == 2 / 3
