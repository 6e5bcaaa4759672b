"""``dsrbot status``: what runs, the queue depths, the oldest unprocessed message, the next
deadline; read from the database (and the run-state file) whether the service runs or not."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.cli.status_cmds import collect_status, configured_components, render
from bot.service import RunState, run_state_path
from bot.settings import Settings, load_settings
from storage import chat_outbox, inbox, outbox
from storage.db import Database
from storage.models import Case, InboundState, OutboundState
from tests.run_kit import dsrbot, free_port, write_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path, port=free_port()))


def _db(settings: Settings) -> Database:
    dsrbot(Path(str(settings.mail.outgoing.maildir)).parent.parent / "config.toml", "init")
    return Database(settings.database.url)


def _inbound(db: Database, n: int, state: InboundState, received_at: datetime) -> int:
    with db.session() as session:
        row, _ = inbox.store_inbound(
            session, f"Message-ID: <m{n}@example.org>\r\n\r\nbody {n}\r\n".encode(),
            channel="smtp", envelope_from="a@example.org", envelope_to=["info@rusttet.fi"],
            received_at=received_at)
        if state != InboundState.RECEIVED:
            inbox.mark(session, row, state, ["test"])
        assert row.id is not None
        return row.id


def _case(db: Database, case_id: str, status: str, due: date, extended: date | None = None
          ) -> None:
    with db.session() as session:
        session.add(Case(id=case_id, types=["access"], status=status, requester="x@example.org",
                         received_at=NOW, due_date=due, extended=extended is not None,
                         extended_due_date=extended, created_at=NOW, updated_at=NOW))


def test_status_of_an_empty_database_says_nothing_waits(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    db = _db(settings)
    with db.read_session() as session:
        status = collect_status(settings, session, NOW)
    db.dispose()
    assert not status.service.running
    assert set(status.queues.values()) == {0}
    assert status.oldest_unprocessed is None and status.next_deadline is None
    assert status.open_cases == {}
    assert "oldest unprocessed: none" in render(status)


def test_status_counts_queues_and_names_the_oldest_message_and_next_deadline(
    tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    db = _db(settings)
    _inbound(db, 1, InboundState.PROCESSED, NOW - timedelta(days=3))
    oldest = _inbound(db, 2, InboundState.RECEIVED, NOW - timedelta(hours=2))
    _inbound(db, 3, InboundState.RECEIVED, NOW - timedelta(minutes=5))
    _inbound(db, 4, InboundState.HELD, NOW - timedelta(days=5))
    _inbound(db, 5, InboundState.QUARANTINED, NOW)
    _case(db, "DSR-2026-0001", "awaiting_approval", date(2026, 3, 20))
    _case(db, "DSR-2026-0002", "awaiting_identity", date(2026, 3, 30))
    # Extended: its extended due date counts, not the first one.
    _case(db, "DSR-2026-0003", "awaiting_approval", date(2026, 3, 3), extended=date(2026, 5, 4))
    _case(db, "DSR-2026-0004", "done", date(2026, 3, 4))  # closed cases have no deadline
    with db.session() as session:
        for _ in range(2):
            outbox.enqueue(session, kind="receipt", recipient="x@example.org", subject="s",
                           body_text="b", domain="rusttet.fi", case_id="DSR-2026-0001")
        failed = outbox.enqueue(session, kind="receipt", recipient="x@example.org",
                                subject="s", body_text="b", domain="rusttet.fi")
        failed.state = OutboundState.FAILED.value
        chat_outbox.enqueue(session, case_id="DSR-2026-0001")
    with db.read_session() as session:
        status = collect_status(settings, session, NOW)
    db.dispose()
    assert status.queues == {
        "inbound_received": 2, "inbound_held": 1, "inbound_quarantined": 1,
        "outbox_pending": 2, "outbox_failed": 1, "outbox_bounced": 0,
        "chat_pending": 1,
    }
    assert status.oldest_unprocessed == {
        "inbound_id": oldest, "received_at": (NOW - timedelta(hours=2)).isoformat(),
        "age_seconds": 7200}
    assert status.next_deadline == {"case_id": "DSR-2026-0001", "due_date": "2026-03-20",
                                    "days_left": 18}
    assert status.open_cases == {"awaiting_approval": 2, "awaiting_identity": 1}
    text = render(status)
    assert "inbound: 2 to process, 1 held, 1 quarantined" in text
    assert f"oldest unprocessed: inbound {oldest}, waiting 2 h" in text
    assert "next deadline: DSR-2026-0001 due 2026-03-20 (18 day(s) left)" in text
    assert "open cases: 3 (awaiting_approval 2, awaiting_identity 1)" in text


def test_status_lists_the_components_the_configuration_enables(tmp_path: Path) -> None:
    settings = Settings.model_validate({
        "mail": {"imap": {"enabled": True, "host": "imap.example.org"},
                 "receiver": {"enabled": False}},
        "scheduler": {"enabled": False},
        "chat": {"backend": "telegram"},
    })
    names = configured_components(settings)
    assert names[1:] == ["pipeline", "imap-watcher (imap.example.org:993 INBOX)", "telegram"]
    assert names[0].startswith("outbox-sender (maildir ")


def _write_state(settings: Settings, pid: int, heartbeat_at: datetime) -> None:
    RunState(pid=pid, host=socket.gethostname(), started_at=heartbeat_at,
             heartbeat_at=heartbeat_at, components=["pipeline"]).write(run_state_path(settings))


def test_status_reports_a_running_service_from_its_heartbeat(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    db = _db(settings)
    _write_state(settings, os.getpid(), NOW - timedelta(seconds=4))
    with db.read_session() as session:
        status = collect_status(settings, session, NOW)
    db.dispose()
    assert status.service.running and status.service.pid == os.getpid()
    assert status.service.heartbeat_age_seconds == 4
    assert render(status).startswith(f"service: running (pid {os.getpid()}")


def test_status_calls_a_dead_process_not_running(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    db = _db(settings)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _write_state(settings, gone.pid, NOW)
    with db.read_session() as session:
        status = collect_status(settings, session, NOW)
    db.dispose()
    assert not status.service.running and "process is gone" in status.service.note


def test_status_calls_a_stale_heartbeat_not_running(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    db = _db(settings)
    _write_state(settings, os.getpid(), NOW - timedelta(minutes=5))
    with db.read_session() as session:
        status = collect_status(settings, session, NOW)
    db.dispose()
    assert not status.service.running and "stale" in status.service.note


def test_dsrbot_status_json_is_one_object_for_scripts(tmp_path: Path) -> None:
    config = write_config(tmp_path, port=free_port())
    dsrbot(config, "init")
    result = dsrbot(config, "status", "--json", check=False)
    assert result.exit_code == 1  # not running
    data = json.loads(result.stdout)
    assert set(data) == {"service", "configured", "queues", "oldest_unprocessed",
                         "next_deadline", "open_cases", "health", "canary", "warnings"}
    assert data["service"]["running"] is False and data["health"]["state"] == "not running"
    text = dsrbot(config, "status", check=False).stdout
    assert text.startswith("service: not running")


def test_status_on_a_database_never_initialised_says_so_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, port=free_port())
    result = dsrbot(config, "status", check=False)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "dsrbot: the database has no dsrbot schema yet: run `dsrbot init` first"]
