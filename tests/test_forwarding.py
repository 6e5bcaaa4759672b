"""A home for every mail: what is not a request, received over SMTP, reaches customer service.

Real peers: a real ``dsrbot run`` subprocess (killed with SIGKILL on the way), our receiver
driven by smtplib, an aiosmtpd relay as the outgoing server that captures what we send.
"""

from __future__ import annotations

import email
import os
import signal
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from sqlmodel import select

from bot.pipeline import run_once
from bot.settings import Settings, load_settings
from storage import inbox
from storage.db import Database
from storage.models import InboundMessage, OutboundMessage
from tests.fixtures.relay import ThreadedRelay
from tests.run_kit import (
    dsrbot,
    free_port,
    send_mail,
    start_service,
    stop_service,
    wait_for,
    wait_listening,
)
from tests.test_pipeline import mail

CS = "asiakaspalvelu@rusttet.fi"


def _rows(db: Database, model: type) -> list:  # type: ignore[type-arg]
    with db.read_session() as session:
        return list(session.exec(select(model)).all())


def test_order_question_over_smtp_is_forwarded_to_customer_service_once_across_sigkill(
    tmp_path: Path,
) -> None:
    relay = ThreadedRelay().start()
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[mail.receiver]\nport = {port}\nforward_other_to = "{CS}"\n\n'
        f'[mail.outgoing]\nbackend = "smtp"\nport = {relay.port}\nlease_seconds = 2\n\n'
        "[scheduler]\nenabled = false\n", encoding="utf-8")
    dsrbot(cfg, "init")
    db = Database(f"sqlite:///{tmp_path / 'var' / 'dsrbot.db'}")
    log = tmp_path / "run.log"
    try:
        proc = start_service(cfg, log)
        wait_listening(port, proc, log)
        send_mail(port, sender="pekka@example.fi", subject="Tilaus 4411",
                  body="Hei, missä tilaukseni 4411 on? Se piti toimittaa jo viime viikolla.",
                  message_id="<order-4411@example.fi>")
        # Killed without warning as soon as the question is stored (250 said).
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc = start_service(cfg, log)
        wait_listening(port, proc, log)
        wait_for(lambda: relay.to(CS), message="the forward at customer service")
        # Delivery is at-least-once (bot/mail/delivery/loop.py): a kill between the relay's
        # "250" and `mark_sent` sends it again with the same Message-ID. What must hold is that
        # a forward recorded as sent is never sent again, so the kill waits for that record.
        wait_for(lambda: [r for r in _rows(db, OutboundMessage)
                          if r.kind == "forward" and r.state == "sent"],
                 message="the forward recorded as sent")
        # Killed again after the forward went out; the restart must not send it again.
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc = start_service(cfg, log)
        wait_listening(port, proc, log)
        wait_for(lambda: all(r.state != "received" for r in _rows(db, InboundMessage)),
                 message="processed")
        assert stop_service(proc) == 0
    finally:
        relay.close()
    forwards = relay.to(CS)
    assert len(forwards) == 1
    outer = email.message_from_bytes(forwards[0].data, policy=policy.default)
    attached = [p for p in outer.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert len(attached) == 1
    original = attached[0].get_content()
    assert original["Message-ID"] == "<order-4411@example.fi>"
    assert original["From"] == "pekka@example.fi"
    assert "Tilaus 4411" in str(outer["Subject"])
    rows = [r for r in _rows(db, OutboundMessage) if r.kind == "forward"]
    assert len(rows) == 1 and rows[0].state == "sent"
    assert not [r for r in _rows(db, OutboundMessage) if r.kind == "receipt"]
    db.dispose()


# --- the rule, stage by stage (pipeline in-process, SQLite) --------------------------------

def _settings(tmp_path: Path, db: Database, robots: bool = False) -> Settings:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n[mail.receiver]\nforward_other_to = "{CS}"\n'
                   f"forward_robots = {'true' if robots else 'false'}\n", encoding="utf-8")
    return load_settings(cfg)


def _deliver(db: Database, settings: Settings, raw: bytes, channel: str = "smtp") -> None:
    with db.session() as s:
        inbox.store_inbound(s, raw, channel=channel, envelope_from="", envelope_to=[],
                            received_at=datetime.now(UTC))
    run_once(db, settings)


def _forwards(db: Database) -> list[OutboundMessage]:
    return [r for r in _rows(db, OutboundMessage) if r.kind == "forward"]


def test_a_request_is_a_case_and_never_forwarded(tmp_path: Path, sqlite_db: Database) -> None:
    _deliver(sqlite_db, _settings(tmp_path, sqlite_db),
             mail("Poistakaa tietoni", "Poistakaa kaikki tietoni rekisteristänne."))
    assert _forwards(sqlite_db) == []


def test_mail_read_over_imap_stays_in_the_mailbox_and_is_not_forwarded(
    tmp_path: Path, sqlite_db: Database
) -> None:
    _deliver(sqlite_db, _settings(tmp_path, sqlite_db),
             mail("Tilaus", "Missä tilaukseni on?"), channel="imap")
    assert _forwards(sqlite_db) == []


def test_robots_are_forwarded_only_with_forward_robots(tmp_path: Path, sqlite_db: Database
                                                       ) -> None:
    auto = mail("Automaattinen vastaus", "Olen lomalla.",
                headers={"Auto-Submitted": "auto-replied"})
    _deliver(sqlite_db, _settings(tmp_path, sqlite_db), auto)
    assert _forwards(sqlite_db) == []
    other = mail("Out of office", "Back on Monday.", headers={"Auto-Submitted": "auto-replied"})
    _deliver(sqlite_db, _settings(tmp_path, sqlite_db, robots=True), other)
    assert len(_forwards(sqlite_db)) == 1


def test_mail_from_our_own_address_is_never_forwarded_even_with_forward_robots(
    tmp_path: Path, sqlite_db: Database
) -> None:
    _deliver(sqlite_db, _settings(tmp_path, sqlite_db, robots=True),
             mail("Fwd: Tilaus", "forwarded", sender="info@rusttet.fi"))
    assert _forwards(sqlite_db) == []


def test_forwarding_to_one_of_our_own_addresses_is_refused_at_start(tmp_path: Path) -> None:
    from bot.service import check_run_config
    from bot.settings import ConfigError

    settings = Settings()
    settings.mail.receiver.forward_other_to = "info@rusttet.fi"
    with pytest.raises(ConfigError, match="forward_other_to"):
        check_run_config(settings)


def test_processing_a_message_again_never_forwards_it_twice(tmp_path: Path, sqlite_db: Database
                                                            ) -> None:
    settings = _settings(tmp_path, sqlite_db)
    _deliver(sqlite_db, settings, mail("Tilaus", "Missä tilaukseni on?"))
    with sqlite_db.session() as s:  # as if a second instance or a staff re-run took it again
        row = s.exec(select(InboundMessage)).one()
        row.state = "received"
        s.add(row)
    run_once(sqlite_db, settings)
    assert [r.state for r in _rows(sqlite_db, InboundMessage)] == ["processed"]  # no error
    assert len(_forwards(sqlite_db)) == 1
    assert _forwards(sqlite_db)[0].dedupe_key == f"forward:{row.id}"


def _attached_original(db: Database, row: OutboundMessage) -> bytes:
    from storage.models import OutboundAttachment

    with db.read_session() as s:
        (att,) = s.exec(select(OutboundAttachment).where(
            OutboundAttachment.outbound_id == row.id)).all()
    assert att.content_type == "message/rfc822"
    return bytes(att.data)


def test_mail_held_for_staff_is_forwarded_once_saying_why(tmp_path: Path, sqlite_db: Database
                                                          ) -> None:
    cfg = tmp_path / "held.toml"
    cfg.write_text(f'[database]\nurl = "{sqlite_db.url}"\n[mail]\nrate_limit_per_sender = 1\n'
                   f'[mail.receiver]\nforward_other_to = "{CS}"\n', encoding="utf-8")
    settings = load_settings(cfg)
    _deliver(sqlite_db, settings, mail("Tilaus 1", "Missä tilaukseni on?",
                                       sender="pekka@example.fi"))
    second = mail("Tilaus 2", "Entä toinen tilaukseni, joko se on lähetetty?",
                  sender="pekka@example.fi")
    _deliver(sqlite_db, settings, second)
    run_once(sqlite_db, settings)  # processing again writes nothing new
    inbound = _rows(sqlite_db, InboundMessage)
    assert [r.state for r in inbound] == ["processed", "held"]
    held = [f for f in _forwards(sqlite_db) if f.dedupe_key == f"forward:{inbound[1].id}"]
    assert len(held) == 1 and len(_forwards(sqlite_db)) == 2
    assert held[0].recipient == CS and "held for staff to look at" in held[0].body_text
    assert "rate limit" in held[0].body_text
    assert _attached_original(sqlite_db, held[0]) == second


def test_quarantined_mail_is_forwarded_once_saying_why(tmp_path: Path, sqlite_db: Database
                                                       ) -> None:
    broken = mail("Tietoni", "Haluan nähdä tietoni.", sender="Maija ilman osoitetta")
    _deliver(sqlite_db, _settings(tmp_path, sqlite_db), broken)
    (row,) = _rows(sqlite_db, InboundMessage)
    assert row.state == "quarantined"
    (forward,) = _forwards(sqlite_db)
    assert forward.recipient == CS and forward.dedupe_key == f"forward:{row.id}"
    assert "could not be read automatically" in forward.body_text
    assert _attached_original(sqlite_db, forward) == broken
