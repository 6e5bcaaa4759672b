"""``dsrbot run``: JSON logs without personal data, a clean stop on SIGTERM, config errors in one
line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import JsonLineFormatter, configure_logging, mask_addresses
from bot.service import check_run_config, run_service
from bot.settings import ConfigError, Settings, load_settings
from tests.run_kit import (
    CUSTOMERS_CSV,
    dsrbot,
    free_port,
    mail_with_subject,
    outbox_mails,
    send_mail,
    start_service,
    stop_service,
    wait_for,
    wait_listening,
    write_config,
)

NAME, SURNAME, ADDRESS = "Maija", "Meikäläinen", "maija@example.fi"
BODY = "Hello, please erase my personal data. I moved to Kalevankatu 3 last spring."


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """Every log record of the process, formatted as ``dsrbot run`` formats it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _record(message: str, **extra: object) -> dict[str, object]:
    buffer = io.StringIO()
    logger = logging.getLogger("dsrbot.test.json")
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLineFormatter())
    logger.addHandler(handler)
    try:
        logger.warning(message, extra=extra)
    finally:
        logger.removeHandler(handler)
    return dict(json.loads(buffer.getvalue()))


def test_log_line_is_one_json_object_with_the_ids_passed() -> None:
    entry = _record("case finished", case_id="DSR-2026-0001", inbound_id=7, outbound_id=3)
    assert entry["message"] == "case finished"
    assert entry["level"] == "WARNING" and entry["logger"] == "dsrbot.test.json"
    assert (entry["case_id"], entry["inbound_id"], entry["outbound_id"]) == ("DSR-2026-0001", 7, 3)
    assert str(entry["time"]).endswith("+00:00")


def test_log_line_masks_an_email_address_that_slipped_into_a_message() -> None:
    assert "maija@example.fi" not in json.dumps(_record("mail from maija@example.fi"))
    assert mask_addresses("to a.b+c@mail.example.co.uk now") == "to <address> now"


def test_logged_exception_keeps_its_class_and_frames_but_not_its_text() -> None:
    buffer = io.StringIO()
    logger = logging.getLogger("dsrbot.test.exc")
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLineFormatter())
    logger.addHandler(handler)
    try:
        raise ValueError(f"duplicate key for {ADDRESS} ({NAME})")
    except ValueError:
        logger.exception("storing failed", extra={"inbound_id": 5})
    finally:
        logger.removeHandler(handler)
    line = buffer.getvalue()
    entry = json.loads(line)
    assert entry["error"] == "ValueError" and entry["inbound_id"] == 5
    assert any("test_service.py" in frame for frame in entry["stack"])
    assert ADDRESS not in line and NAME not in line


def test_configure_logging_twice_does_not_double_lines() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        configure_logging(stream=stream)
        configure_logging(stream=stream)
        logging.getLogger("dsrbot.test.twice").info("once")
        assert stream.getvalue().count('"once"') == 1
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


async def test_logs_of_a_processed_request_hold_no_address_name_or_body_text(
    tmp_path: Path, log_buffer: io.StringIO
) -> None:
    """Receiver, pipeline, identity challenge and outbox sender all log; none of it personal."""
    port = free_port()
    config = write_config(tmp_path, port=port)
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    dsrbot(config, "init")
    dsrbot(config, "import", "customers", str(tmp_path / "customers.csv"))
    settings = load_settings(config)
    maildir = settings.mail.outgoing.maildir
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop, configure_logs=False))
    try:
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "var" / "dsrbot.run.json").exists(),
                                message="service start")
        await asyncio.to_thread(
            send_mail, port, sender=f"{NAME} {SURNAME} <{ADDRESS}>",
            subject="Erase my data", body=f"{BODY}\n{NAME} {SURNAME}")
        await asyncio.to_thread(wait_for, lambda: mail_with_subject(maildir, "Please confirm"),
                                message="the challenge in the maildir")
    finally:
        stop.set()
        await service
    logs = log_buffer.getvalue()
    assert "inbound stored" in logs and "outbox sent" in logs  # the flow was logged
    for line in logs.splitlines():
        json.loads(line)  # every line is one JSON object
    for secret in (ADDRESS, "maija@", NAME, SURNAME, "Kalevankatu", "erase my personal data"):
        assert secret not in logs, f"{secret!r} leaked into the logs"


def _settings(**sections: dict[str, object]) -> Settings:
    return Settings.model_validate(sections)


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"mail": {"imap": {"enabled": True, "password": "x"}}}, "mail.imap.username"),
        ({"mail": {"imap": {"enabled": True, "username": "dsr"}}}, "mail.imap.password"),
        ({"chat": {"backend": "telegram", "telegram_chat_id": 1}}, "chat.token"),
        ({"chat": {"backend": "telegram", "token": "t"}}, "chat.telegram_chat_id"),
        ({"mail": {"outgoing": {"backend": "smtp", "username": "u"}}}, "mail.outgoing.password"),
    ],
)
def test_a_component_config_problem_is_refused_before_start_naming_the_key(
    sections: dict[str, dict[str, object]], key: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(key)}: "):
        check_run_config(_settings(**sections))


def test_an_unreadable_secret_file_is_a_config_error(tmp_path: Path) -> None:
    settings = _settings(mail={"imap": {"enabled": True, "username": "dsr",
                                        "password_file": str(tmp_path / "missing")}})
    with pytest.raises(ConfigError, match=r"^mail\.imap\.password_file: cannot be read"):
        check_run_config(settings)


def test_dsrbot_run_without_imap_credentials_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, port=free_port(), extra="\n[mail.imap]\nenabled = true\n")
    result = dsrbot(config, "run", check=False)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "dsrbot: config error: mail.imap.username: required when mail.imap.enabled = true"]


def test_dsrbot_run_without_telegram_token_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, port=free_port(),
                          extra='\n[chat]\nbackend = "telegram"\ntelegram_chat_id = 5\n')
    result = dsrbot(config, "run", check=False)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsrbot: config error: chat.token: required")


def test_sigterm_after_a_receipt_stops_the_service_with_exit_code_0(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port=port)
    log = tmp_path / "run.log"
    proc = start_service(config, log)
    try:
        wait_listening(port, proc, log)
        send_mail(port, sender="someone@example.org", subject="Erase my data",
                  body="Please erase my personal data from your register.")
        wait_for(lambda: mail_with_subject(tmp_path / "var" / "outbox", "received your request"),
                 message="the receipt in the maildir")
    finally:
        code = stop_service(proc, timeout=10)  # raises (after killing it) if it takes longer
    assert code == 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines[-1]["message"] == "dsrbot stopped"
    assert not (tmp_path / "var" / "dsrbot.run.json").exists()


def test_sigterm_during_a_batch_loses_nothing_and_the_restart_finishes_the_rest(
    tmp_path: Path,
) -> None:
    """Stop right after the last 250: every message is stored; what was not processed before the
    stop is processed after the restart; every request gets exactly one receipt."""
    port = free_port()
    config = write_config(tmp_path, port=port)
    maildir = tmp_path / "var" / "outbox"
    senders = [f"person{n}@example.org" for n in range(6)]
    log = tmp_path / "run.log"
    proc = start_service(config, log)
    try:
        wait_listening(port, proc, log)
        for address in senders:
            send_mail(port, sender=address, subject="Erase my data",
                      body="Please erase my personal data from your register.")
    finally:
        assert stop_service(proc, timeout=10) == 0
    stored = json.loads(dsrbot(config, "status", "--json", check=False).stdout)
    assert stored["queues"]["inbound_quarantined"] == 0
    proc = start_service(config, tmp_path / "run2.log")
    try:
        wait_listening(port, proc, tmp_path / "run2.log")

        def receipts() -> list[str]:
            return [str(m["To"]) for m in outbox_mails(maildir)
                    if "received your request" in str(m["Subject"])]
        wait_for(lambda: len(receipts()) >= len(senders), message="all receipts")
    finally:
        assert stop_service(proc, timeout=10) == 0
    assert sorted(receipts()) == sorted(senders)
    cases = json.loads(dsrbot(config, "cases", "--all", "--json").stdout)
    assert sorted(c["requester"] for c in cases) == sorted(senders)
    assert "audit chain intact" in dsrbot(config, "audit", "verify").stdout


def test_sigterm_stops_within_10_s_while_the_relay_hangs(tmp_path: Path) -> None:
    """A relay that accepts the connection and never greets: the stop does not wait for it."""
    port = free_port()
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(16)  # never accepted: the TCP handshake completes, no SMTP greeting
        relay_port = blackhole.getsockname()[1]
        config = write_config(tmp_path, port=port, extra=(
            f'\n[mail.outgoing]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {relay_port}\n'))
        log = tmp_path / "run.log"
        proc = start_service(config, log)
        try:
            wait_listening(port, proc, log)
            send_mail(port, sender="someone@example.org", subject="Erase my data",
                      body="Please erase my personal data from your register.")
            wait_for(lambda: "pipeline batch" in log.read_text(), message="the request processed")
        finally:
            code = stop_service(proc, timeout=10)
    assert code == 0
    status = json.loads(dsrbot(config, "status", "--json", check=False).stdout)
    assert status["queues"]["outbox_pending"] >= 1  # kept for the next start, not lost


def test_ids_written_in_a_message_become_fields_too() -> None:
    entry = _record("outbox sent outbound_id=12 case=DSR-2026-0042 kind=receipt")
    assert (entry["outbound_id"], entry["case_id"]) == (12, "DSR-2026-0042")
    assert _record("pipeline failed inbound_id=9")["inbound_id"] == 9
    assert _record("x inbound_id=9", inbound_id=1)["inbound_id"] == 1  # extra= wins


async def test_dsrbot_run_warns_naming_tsv_6097_when_signatures_are_required(
    tmp_path: Path, log_buffer: io.StringIO
) -> None:
    """``rights.require_signature`` keeps the notice's literal rule; the service says at start
    that the Ombudsman's sanctions board held demanding a signature excessive."""
    config = write_config(tmp_path, port=free_port())
    dsrbot(config, "init")
    settings = load_settings(config)
    settings.rights.require_signature = ["access"]
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop, configure_logs=False))
    try:
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "var" / "dsrbot.run.json").exists(),
                                message="service start")
    finally:
        stop.set()
        await service
    warnings = [json.loads(line) for line in log_buffer.getvalue().splitlines()
                if "rights.require_signature" in line]
    assert warnings and "TSV 6097/161/21" in str(warnings[0])
