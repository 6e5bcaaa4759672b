"""The outbox sender against a real SMTP peer (aiosmtpd) and a real maildir.

What must hold: a committed letter reaches the relay once, threaded and tagged; a relay outage
or a 4xx only delays it; a 5xx for the recipient ends it at once; a sender killed after the
relay took the message resends it with the same Message-ID; shutdown is bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import mailbox
import ssl
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SMTPSession
from sqlmodel import col, select

from bot.mail.delivery import MaildirBackend, OutboxSender, SmtpBackend, backend_from_settings
from bot.service import build_components
from bot.settings import ConfigError, Settings
from storage.cases import create_case
from storage.db import Database
from storage.models import AuditEntry, OutboundMessage
from storage.outbox import Backoff, enqueue
from tests.fixtures.smtp_sink import SmtpSink, free_port

FROM = "info@rusttet.fi"
FAST = Backoff(base=timedelta(milliseconds=50), cap=timedelta(milliseconds=200))


def _sender(db: Database, backend: Any, **overrides: Any) -> OutboxSender:
    values: dict[str, Any] = {"from_address": FROM, "from_name": "Rusttet Oy",
                              "poll_seconds": 0.5, "backoff": FAST}
    values.update(overrides)
    return OutboxSender(db, backend, **values)


def _enqueue(db: Database, *, with_case: bool = False, **overrides: Any) -> OutboundMessage:
    with db.session() as s:
        case_id = None
        if with_case:
            case_id = create_case(
                s, types=["access"], requester="maija@example.fi", language="fi",
                received_at=datetime.now(UTC), due_date=date(2026, 4, 2)).id
        values: dict[str, Any] = {
            "kind": "receipt", "recipient": "maija@example.fi", "subject": "Kuittaus",
            "body_text": "Pyyntösi on vastaanotettu.\n", "domain": "rusttet.fi",
            "case_id": case_id,
        }
        values.update(overrides)
        return enqueue(s, **values)


def _row(db: Database, outbound_id: int | None) -> OutboundMessage:
    with db.read_session() as s:
        row = s.get(OutboundMessage, outbound_id)
        assert row is not None
        return row


def _actions(db: Database, action: str) -> list[AuditEntry]:
    with db.read_session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)
                           .order_by(col(AuditEntry.id))).all())


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll until ``predicate`` holds; a bound against hangs, not a speed assertion."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


async def test_letter_reaches_the_relay_threaded_and_tagged_with_its_case(db: Database) -> None:
    row = _enqueue(db, with_case=True, subject="Re: Tietopyyntö",
                   in_reply_to="<req-2@example.fi>", references=["<req-1@example.fi>"])
    async with SmtpSink() as sink:
        sender = _sender(db, SmtpBackend("127.0.0.1", sink.port))
        await sender.start()
        sender.notify()
        await wait_until(lambda: _row(db, row.id).state == "sent", "row marked sent")
        await sender.stop()
    [captured] = sink.captured
    assert captured.mail_from == FROM and captured.rcpt_tos == ["maija@example.fi"]
    msg = captured.message
    assert msg["Message-ID"] == row.message_id
    assert msg["Subject"] == f"[{row.case_id}] Re: Tietopyyntö"
    assert msg["In-Reply-To"] == "<req-2@example.fi>"
    assert msg["References"] == "<req-1@example.fi> <req-2@example.fi>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"] == "Rusttet Oy <info@rusttet.fi>"
    assert "vastaanotettu" in msg.get_content()
    sent = _actions(db, "outbox.sent")
    assert [e.case_id for e in sent] == [row.case_id]


async def test_notify_sends_at_once_without_waiting_for_the_poll(sqlite_db: Database) -> None:
    async with SmtpSink() as sink:
        sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port), poll_seconds=3600)
        await sender.start()
        await asyncio.sleep(0)  # the first (empty) pass
        row = _enqueue(sqlite_db)
        sender.notify()
        await wait_until(lambda: len(sink.captured) == 1, "delivery after notify")
        await sender.stop()
    assert sink.messages[0]["Message-ID"] == row.message_id


async def test_notify_from_a_worker_thread_wakes_the_sender(sqlite_db: Database) -> None:
    async with SmtpSink() as sink:
        sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port), poll_seconds=3600)
        await sender.start()
        await asyncio.to_thread(lambda: (_enqueue(sqlite_db), sender.notify()))
        await wait_until(lambda: len(sink.captured) == 1, "delivery after notify")
        await sender.stop()


async def test_relay_down_for_a_while_retries_then_delivers_once(db: Database) -> None:
    sink = SmtpSink()  # port chosen, nothing listening yet: connection refused
    row = _enqueue(db, with_case=True)
    sender = _sender(db, SmtpBackend("127.0.0.1", sink.port, timeout=5))
    await sender.start()
    try:
        await wait_until(lambda: _row(db, row.id).attempts >= 3, "three failed attempts")
        assert _row(db, row.id).state == "pending"
        await sink.start()
        await wait_until(lambda: _row(db, row.id).state == "sent", "delivery after outage")
    finally:
        await sender.stop()
        await sink.stop()
    assert len(sink.captured) == 1
    retries = _actions(db, "outbox.retry")
    assert len(retries) >= 2
    assert all(e.details["reason"].startswith("relay unreachable") for e in retries)
    assert all("@" not in str(e.details) for e in retries)


async def test_relay_restarting_on_the_same_port_loses_nothing(sqlite_db: Database) -> None:
    async with SmtpSink() as sink:
        sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port, timeout=5))
        await sender.start()
        first = _enqueue(sqlite_db)
        sender.notify()
        await wait_until(lambda: _row(sqlite_db, first.id).state == "sent", "first letter")
        await sink.stop()
        second = _enqueue(sqlite_db)
        sender.notify()
        await wait_until(lambda: _row(sqlite_db, second.id).attempts >= 1, "attempt while down")
        await sink.start()
        await wait_until(lambda: _row(sqlite_db, second.id).state == "sent", "second letter")
        await sender.stop()
    assert [m["Message-ID"] for m in sink.messages] == [first.message_id, second.message_id]


async def test_temporary_refusal_is_retried_and_delivered_once(sqlite_db: Database) -> None:
    async with SmtpSink() as sink:
        sink.handler.fail_data = ["451 4.3.0 Try again later"]
        row = _enqueue(sqlite_db)
        sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port))
        await sender.start()
        await wait_until(lambda: _row(sqlite_db, row.id).state == "sent", "delivery after 451")
        await sender.stop()
    assert len(sink.captured) == 1
    assert _row(sqlite_db, row.id).attempts == 2
    assert [e.details["reason"] for e in _actions(sqlite_db, "outbox.retry")] == [
        "smtp 451 message refused"]


async def test_permanent_refusal_of_the_recipient_fails_at_once(db: Database) -> None:
    async with SmtpSink() as sink:
        sink.handler.refuse_rcpt = {"gone@example.fi": "550 5.1.1 No such user"}
        bad = _enqueue(db, with_case=True, recipient="gone@example.fi")
        good = _enqueue(db)
        sender = _sender(db, SmtpBackend("127.0.0.1", sink.port))
        await sender.start()
        await wait_until(lambda: _row(db, bad.id).state == "failed", "bad row failed")
        await wait_until(lambda: _row(db, good.id).state == "sent", "good row sent")
        await sender.stop()
    failed = _row(db, bad.id)
    assert failed.attempts == 1 and failed.last_error is not None
    assert "550" in failed.last_error
    [entry] = _actions(db, "outbox.failed")
    assert entry.case_id == bad.case_id
    assert entry.details["reason"] == "smtp 550 recipient refused"
    assert [c.rcpt_tos for c in sink.captured] == [["maija@example.fi"]]


async def test_max_attempts_ends_in_failed_and_is_audited(sqlite_db: Database) -> None:
    row = _enqueue(sqlite_db, with_case=True)
    sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", free_port(), timeout=5),
                     max_attempts=3)
    await sender.start()
    await wait_until(lambda: _row(sqlite_db, row.id).state == "failed", "row failed")
    await sender.stop()
    assert _row(sqlite_db, row.id).attempts == 3
    assert len(_actions(sqlite_db, "outbox.retry")) == 2
    [entry] = _actions(sqlite_db, "outbox.failed")
    assert entry.case_id == row.case_id and entry.details["attempts"] == 3


CHILD = """
import asyncio, sys
from bot.mail.delivery import OutboxSender, SmtpBackend
from storage.db import Database

async def main() -> None:
    db = Database(sys.argv[1])
    sender = OutboxSender(db, SmtpBackend("127.0.0.1", int(sys.argv[2])),
                          from_address="info@rusttet.fi", poll_seconds=0.1)
    await sender.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_sender_killed_after_the_relay_took_the_letter_resends_the_same_message(
        sqlite_db: Database) -> None:
    row = _enqueue(sqlite_db, with_case=True, in_reply_to="<req@example.fi>",
                   body_html="<p>Pyyntösi on vastaanotettu.</p>")
    async with SmtpSink() as sink:
        sink.handler.hold = asyncio.Event()  # the relay has the data but has not said 250
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, sqlite_db.url, str(sink.port),
            cwd=str(Path(__file__).resolve().parents[1]))
        try:
            await asyncio.wait_for(sink.handler.arrived.wait(), timeout=60)
        finally:
            child.kill()
            await child.wait()
        sink.handler.hold.set()
        stranded = _row(sqlite_db, row.id)
        assert stranded.state == "pending" and stranded.attempts == 1
        # Restart: once the dead sender's lease has run out the row is due again.
        later = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port),
                        from_name=None, clock=lambda: datetime.now(UTC) + timedelta(minutes=6))
        assert await later.flush(timeout=20) == 1
    assert _row(sqlite_db, row.id).state == "sent"
    first, second = sink.captured
    assert first.message["Message-ID"] == second.message["Message-ID"] == row.message_id
    assert first.data == second.data  # byte for byte: a receiver sees one message twice
    assert len(_actions(sqlite_db, "outbox.sent")) == 1


async def test_maildir_backend_writes_a_readable_message(sqlite_db: Database,
                                                         tmp_path: Path) -> None:
    row = _enqueue(sqlite_db, with_case=True, subject="Pyyntö", in_reply_to="<req@example.fi>")
    sender = _sender(sqlite_db, MaildirBackend(tmp_path / "outbox"))
    assert await sender.flush(timeout=20) == 1
    box = mailbox.Maildir(str(tmp_path / "outbox"), create=False)
    [msg] = list(box)
    assert msg["Message-ID"] == row.message_id
    assert msg["To"] == "maija@example.fi"
    assert msg["In-Reply-To"] == "<req@example.fi>"
    assert b"\r\n" not in box.get_bytes(box.keys()[0])  # maildir files use LF
    assert _row(sqlite_db, row.id).state == "sent"


async def test_maildir_resend_after_a_crash_keeps_one_copy(tmp_path: Path) -> None:
    from email.message import EmailMessage

    backend = MaildirBackend(tmp_path / "outbox")
    msg = EmailMessage()
    msg["Message-ID"] = "<dsrbot.DSR-2026-0001.abc@rusttet.fi>"
    msg["To"] = "maija@example.fi"
    msg.set_content("Hei")
    for _ in range(2):  # delivered, crash before mark_sent, delivered again after the lease
        await backend.deliver(msg, sender="info@rusttet.fi", recipient="maija@example.fi")
    box = mailbox.Maildir(str(tmp_path / "outbox"), create=False)
    assert len(box.keys()) == 1
    # Also when the reader has already moved it to cur/ (read mail):
    key = box.keys()[0]
    stored = box.get_message(key)
    stored.set_subdir("cur")
    box[key] = stored
    await backend.deliver(msg, sender="info@rusttet.fi", recipient="maija@example.fi")
    assert len(mailbox.Maildir(str(tmp_path / "outbox"), create=False).keys()) == 1


async def test_sender_stops_within_its_timeout_when_the_relay_hangs(sqlite_db: Database
                                                                  ) -> None:
    held: list[asyncio.StreamWriter] = []

    async def black_hole(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept, never greet

    server = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    row = _enqueue(sqlite_db)
    sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", port, timeout=60), stop_timeout=0.5)
    await sender.start()
    try:
        await wait_until(lambda: bool(held), "connection to the hanging relay")
        await asyncio.wait_for(sender.stop(), timeout=10)
    finally:
        for writer in held:
            writer.close()
        server.close()
    stranded = _row(sqlite_db, row.id)
    assert stranded.state == "pending" and stranded.attempts == 1  # leased, resent later


async def test_stop_sends_what_was_committed_just_before_shutdown(sqlite_db: Database) -> None:
    async with SmtpSink() as sink:
        sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port), poll_seconds=3600)
        await sender.start()
        await asyncio.sleep(0)
        row = _enqueue(sqlite_db)  # no notify: only the shutdown flush can send it
        await sender.stop()
    assert _row(sqlite_db, row.id).state == "sent"
    assert len(sink.captured) == 1


async def test_flush_sends_every_due_letter(sqlite_db: Database) -> None:
    async with SmtpSink() as sink:
        for i in range(45):
            _enqueue(sqlite_db, recipient=f"r{i}@example.fi")
        sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port), batch_size=20)
        assert await sender.flush(timeout=30) == 45
    assert len({m["Message-ID"] for m in sink.messages}) == 45


async def test_hostile_rows_reach_the_relay_without_an_injected_header(sqlite_db: Database
                                                                       ) -> None:
    via_enqueue = _enqueue(sqlite_db, subject="Hi\r\nBcc: victim@example.com",
                           in_reply_to="<a@x>\r\nBcc: victim@example.com")
    now = datetime.now(UTC)
    with sqlite_db.session() as s:  # rows written by some other path, bypassing enqueue
        forged = OutboundMessage(
            message_id="<forged@rusttet.fi>", kind="receipt", recipient="maija@example.fi",
            subject="Hi\r\nBcc: victim@example.com",
            headers={"In-Reply-To": "<a@x>\r\nBcc: victim@example.com", "Bcc": "v@example.com"},
            body_text="x", next_attempt_at=now, created_at=now)
        unsendable = OutboundMessage(
            message_id="<bad@rusttet.fi>", kind="receipt",
            recipient="maija@example.fi\r\nBcc: victim@example.com", subject="x",
            body_text="x", next_attempt_at=now, created_at=now)
        s.add(forged)
        s.add(unsendable)
    async with SmtpSink() as sink:
        sender = _sender(sqlite_db, SmtpBackend("127.0.0.1", sink.port))
        await sender.flush(timeout=20)
    assert len(sink.captured) == 2
    for captured in sink.captured:
        assert captured.rcpt_tos == ["maija@example.fi"]
        assert captured.message["Bcc"] is None
        assert b"\r\nBcc:" not in captured.data
    assert _row(sqlite_db, via_enqueue.id).state == "sent"
    bad = _row(sqlite_db, unsendable.id)
    assert bad.state == "failed" and bad.attempts == 1
    assert _actions(sqlite_db, "outbox.failed")[0].details["reason"] == (
        "letter cannot be composed")


def test_service_runs_the_sender_with_the_maildir_default(sqlite_db: Database,
                                                          tmp_path: Path) -> None:
    settings = Settings()
    settings.mail.outgoing.maildir = tmp_path / "outbox"
    [sender] = [c for c in build_components(settings, sqlite_db) if c.name == "outbox-sender"]
    assert isinstance(sender, OutboxSender)
    assert isinstance(sender.backend, MaildirBackend)
    assert sender.backend.path == tmp_path / "outbox"


def test_smtp_login_without_a_password_is_a_config_error() -> None:
    settings = Settings()
    settings.mail.outgoing.backend = "smtp"
    settings.mail.outgoing.username = "dsrbot"
    with pytest.raises(ConfigError, match=r"mail\.outgoing\.password"):
        backend_from_settings(settings)
    settings.mail.outgoing.password_file = Path("/nonexistent/secret")
    with pytest.raises(ConfigError, match="password_file"):
        backend_from_settings(settings)


def test_smtp_backend_reads_its_secret_from_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n", encoding="utf-8")
    settings = Settings()
    out = settings.mail.outgoing
    out.backend, out.username, out.password_file = "smtp", "dsrbot", secret
    out.host, out.port, out.starttls = "relay.example.fi", 587, True
    backend = backend_from_settings(settings)
    assert isinstance(backend, SmtpBackend)
    assert (backend.host, backend.port, backend.starttls, backend.password) == (
        "relay.example.fi", 587, True, "s3cret")


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: (server context, client context trusting it)."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem = tmp_path / "relay.pem"
    key_pem = tmp_path / "relay.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_pem, key_pem)
    client = ssl.create_default_context(cafile=str(cert_pem))
    return server, client


def _authenticator(server: SMTPServer, session: SMTPSession, envelope: Envelope,
                   mechanism: str, auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"dsrbot"
          and auth_data.password == b"s3cret")
    return AuthResult(success=ok, handled=False)


async def test_starttls_and_login_with_the_configured_secret(
        sqlite_db: Database, tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_tls, client_tls = tls_pair
    async with SmtpSink(tls_context=server_tls, require_starttls=True,
                        authenticator=_authenticator, auth_required=True) as sink:
        row = _enqueue(sqlite_db)
        backend = SmtpBackend("127.0.0.1", sink.port, starttls=True, username="dsrbot",
                              password="s3cret", tls_context=client_tls)
        assert await _sender(sqlite_db, backend).flush(timeout=20) == 1
    assert _row(sqlite_db, row.id).state == "sent"
    assert sink.messages[0]["Message-ID"] == row.message_id


async def test_wrong_relay_password_is_retried_not_given_up(
        sqlite_db: Database, tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_tls, client_tls = tls_pair
    async with SmtpSink(tls_context=server_tls, require_starttls=True,
                        authenticator=_authenticator, auth_required=True) as sink:
        row = _enqueue(sqlite_db)
        backend = SmtpBackend("127.0.0.1", sink.port, starttls=True, username="dsrbot",
                              password="wrong", tls_context=client_tls)
        assert await _sender(sqlite_db, backend).flush(timeout=20) == 0
    stored = _row(sqlite_db, row.id)
    assert stored.state == "pending" and stored.attempts == 1
    assert _actions(sqlite_db, "outbox.retry")[0].details["reason"] == "smtp 535 login refused"
    assert sink.captured == []


async def test_implicit_tls(sqlite_db: Database,
                            tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_tls, client_tls = tls_pair
    async with SmtpSink(implicit_tls=server_tls) as sink:
        row = _enqueue(sqlite_db)
        backend = SmtpBackend("127.0.0.1", sink.port, use_tls=True, tls_context=client_tls)
        assert await _sender(sqlite_db, backend).flush(timeout=20) == 1
    assert sink.messages[0]["Message-ID"] == row.message_id


async def test_untrusted_relay_certificate_is_not_accepted(
        sqlite_db: Database, tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_tls, _client_tls = tls_pair
    async with SmtpSink(tls_context=server_tls, require_starttls=True) as sink:
        row = _enqueue(sqlite_db)
        backend = SmtpBackend("127.0.0.1", sink.port, starttls=True)  # system trust store
        assert await _sender(sqlite_db, backend).flush(timeout=20) == 0
    assert _row(sqlite_db, row.id).state == "pending"
    assert sink.captured == []
