"""Silence and health verdicts: one alert per incident, counted in Finnish working hours;
``dsrbot status`` exits 0 / 1 / 3 with a real ``dsrbot run``; /metrics scraped over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.health.monitor import HealthMonitor
from handlers.health import working_hours_between
from handlers.policy import HealthPolicy
from storage import inbox
from storage.db import Database
from storage.models import Case, ChatNotification, OutboundMessage
from tests.run_kit import (
    dsrbot,
    free_port,
    send_mail,
    start_service,
    stop_service,
    wait_for,
    wait_listening,
    write_config,
)

HKI = "Europe/Helsinki"


def test_working_hours_skip_nights_weekends_and_finnish_holidays() -> None:
    fri_noon = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # 12:00 in Helsinki
    mon_noon = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert working_hours_between(fri_noon, mon_noon, HKI) == 8.0  # 4 h Fri + 4 h Mon
    # Independence Day (6.12.) is a Sunday in 2026; Christmas Eve and Day are not working days.
    dec23 = datetime(2026, 12, 23, 14, 0, tzinfo=UTC)
    dec28 = datetime(2026, 12, 28, 14, 0, tzinfo=UTC)
    assert working_hours_between(dec23, dec28, HKI) == 0.0 + 8.0


def _notices(db: Database) -> list[str]:
    with db.read_session() as s:
        return [n.payload["text"] for n in s.exec(select(ChatNotification)).all()]


def test_silence_alerts_once_and_once_more_when_mail_arrives_again(sqlite_db: Database) -> None:
    last_mail = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 09:00 in Helsinki
    with sqlite_db.session() as s:
        inbox.store_inbound(s, b"Message-ID: <m1@example.fi>\r\n\r\nhei\r\n", channel="smtp",
                            envelope_from="", envelope_to=[], received_at=last_mail)
    clock = [last_mail + timedelta(hours=6)]
    monitor = HealthMonitor(sqlite_db, HealthPolicy(silence_hours=8, alert_to="it@rusttet.fi"),
                            clock=lambda: clock[0])
    assert monitor.tick().opened == []  # 6 working hours: not yet
    clock[0] = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # Tuesday 10:00: 7 + 1 = 8 hours
    assert monitor.tick().opened == ["silence"]
    clock[0] += timedelta(hours=2)
    assert monitor.tick().opened == []
    with sqlite_db.session() as s:
        inbox.store_inbound(s, b"Message-ID: <m2@example.fi>\r\n\r\nhei\r\n", channel="smtp",
                            envelope_from="", envelope_to=[], received_at=clock[0])
    assert monitor.tick().closed == ["silence"]
    assert monitor.tick().closed == []
    texts = _notices(sqlite_db)
    assert len([t for t in texts if "No mail at all" in t]) == 1
    assert len([t for t in texts if "Mail arrives again" in t]) == 1
    with sqlite_db.read_session() as s:
        mails = s.exec(select(OutboundMessage).where(OutboundMessage.kind == "health_alert")).all()
    assert [m.recipient for m in mails] == ["it@rusttet.fi", "it@rusttet.fi"]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_status_exit_codes_healthz_and_metrics_of_a_real_service(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    config = write_config(tmp_path, port=port,
                          extra=f"\n[health]\nmetrics_port = {metrics_port}\n")
    dsrbot(config, "init")
    assert dsrbot(config, "status", check=False).exit_code == 1  # not running
    log = tmp_path / "run.log"
    proc = start_service(config, log)
    try:
        wait_listening(port, proc, log)
        wait_listening(metrics_port, proc, log)
        wait_for(lambda: dsrbot(config, "status", check=False).exit_code == 0,
                 message="running and healthy")
        assert _get(metrics_port, "/healthz") == (200, '{"status": "ok", "problems": []}')
        send_mail(port, sender="maija@example.fi", subject="Poistakaa tietoni",
                  body="Poistakaa kaikki tietoni rekisteristänne.")
        wait_for(lambda: "dsrbot_open_cases 1.0" in _get(metrics_port, "/metrics")[1],
                 message="the case in /metrics")
        text = _get(metrics_port, "/metrics")[1]
        assert 'dsrbot_queue_depth{queue="outbox_failed"} 0.0' in text
        assert "dsrbot_oldest_unprocessed_age_seconds 0.0" in text
        assert "dsrbot_healthy 1.0" in text
        # A bounce nobody handled yet: degraded (3), and /healthz says why.
        db = Database(f"sqlite:///{tmp_path / 'var' / 'dsrbot.db'}")
        with db.session() as s:
            case = s.exec(select(Case)).one()
            case.status = "delivery_failed"
            s.add(case)
        db.dispose()
        result = dsrbot(config, "status", "--json", check=False)
        assert result.exit_code == 3
        data = json.loads(result.stdout)
        assert data["health"]["state"] == "degraded"
        assert any("bounces unhandled" in p for p in data["health"]["problems"])
        code, body = _get(metrics_port, "/healthz")
        assert code == 503 and "bounces unhandled" in body
        assert "dsrbot_healthy 0.0" in _get(metrics_port, "/metrics")[1]
        assert _get(metrics_port, "/nothing")[0] == 404
    finally:
        assert stop_service(proc) == 0
    assert dsrbot(config, "status", check=False).exit_code == 1



# --- each degraded cause of `dsrbot status` (exit 3), read from the database -------------------

CANARY_ON = ('\n[mail.outgoing]\nbackend = "smtp"\nport = 2525\n\n'
             "[health]\ncanary_interval_minutes = 60\ncanary_alert_minutes = 30\n")


def _running_service(tmp_path: Path, extra: str = "") -> tuple[Path, Database]:
    """`dsrbot init` done and a live run-state file (this process's pid, a fresh heartbeat):
    `dsrbot status` sees a running service and judges its health from the database."""
    import os
    import socket

    from bot.service import RunState, run_state_path
    from bot.settings import load_settings

    config = write_config(tmp_path, port=free_port(), extra=extra)
    dsrbot(config, "init")
    now = datetime.now(UTC)
    RunState(pid=os.getpid(), host=socket.gethostname(), started_at=now, heartbeat_at=now,
             components=["pipeline"]).write(run_state_path(load_settings(config)))
    return config, Database(f"sqlite:///{tmp_path / 'var' / 'dsrbot.db'}")


def _status(config: Path) -> tuple[int, dict[str, Any], str]:
    result = dsrbot(config, "status", "--json", check=False)
    return (result.exit_code, json.loads(result.stdout),
            dsrbot(config, "status", check=False).stdout)


def test_status_exits_3_while_the_canary_is_late_and_shows_the_last_round_trip(
        tmp_path: Path) -> None:
    from storage import health as health_store
    from storage.models import CanaryProbe

    config, db = _running_service(tmp_path, CANARY_ON)
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(CanaryProbe(slot=1, token_hash="a" * 64, created_at=now - timedelta(hours=2),
                          arrived_at=now - timedelta(hours=2) + timedelta(seconds=0.734),
                          round_trip_seconds=0.734))
        s.add(CanaryProbe(slot=2, token_hash="b" * 64, created_at=now - timedelta(minutes=45)))
    code, data, text = _status(config)
    assert code == 3 and data["health"]["state"] == "degraded"
    assert data["health"]["problems"] == [
        "canary late: mail to our address is not coming back"]
    assert "canary: last round trip 0.7 s, back at " in text
    with db.session() as s:
        health_store.open_incident(s, "canary", "the probe of 45 min ago is not back", now)
    assert "; INCIDENT since " in _status(config)[2]
    assert "the probe of 45 min ago is not back" in _status(config)[2]

    with db.session() as s:  # the probe comes back: the incident closes, health is ok again
        probe = s.exec(select(CanaryProbe).where(CanaryProbe.slot == 2)).one()
        probe.arrived_at, probe.round_trip_seconds = now, 2700.0
        s.add(probe)
        health_store.close_incident(s, "canary", now)
    code, data, text = _status(config)
    assert code == 0 and data["health"]["problems"] == []
    assert "canary: last round trip 2700.0 s" in text and "INCIDENT" not in text
    db.dispose()


def test_status_exits_3_while_the_outbox_is_failing(tmp_path: Path) -> None:
    from storage import outbox
    from storage.models import OutboundState

    config, db = _running_service(tmp_path)
    assert _status(config)[0] == 0
    with db.session() as s:
        letter = outbox.enqueue(s, kind="receipt", recipient="maija@example.fi", subject="s",
                                body_text="b", domain="rusttet.fi")
        letter.state, letter.next_attempt_at = OutboundState.FAILED.value, datetime.now(UTC)
        letter.last_error = "550 relay refused"
    code, data, text = _status(config)
    assert code == 3
    assert data["health"]["problems"] == [
        "outbox failing: 1 letter(s) failed or retrying"]
    assert "health: degraded: outbox failing" in text
    with db.session() as s:
        row = s.get(OutboundMessage, letter.id)
        assert row is not None
        row.state = OutboundState.SENT.value
        s.add(row)
    assert _status(config)[0] == 0
    db.dispose()


def test_status_exits_3_while_mail_waits_unprocessed_over_10_minutes(tmp_path: Path) -> None:
    config, db = _running_service(tmp_path)
    with db.session() as s:
        inbox.store_inbound(s, b"Message-ID: <m9@example.fi>\r\n\r\nhei\r\n", channel="smtp",
                            envelope_from="", envelope_to=[],
                            received_at=datetime.now(UTC) - timedelta(minutes=11))
    code, data, _ = _status(config)
    assert code == 3 and data["health"]["problems"] == [
        "oldest unprocessed message waits 11 min"]
    db.dispose()
