"""The SMTP/LMTP receiver, driven by the standard library's smtplib over a real socket.

The rules: 250 only once the message is committed; 550 for addresses that are not ours; 552
over the size limit; 451 (and nothing about our internals) when anything fails on our side;
LMTP answers DATA once per accepted recipient.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from bot.mail.receiver import MailReceiver
from bot.settings import Settings
from storage.db import Database
from storage.models import InboundMessage

OURS = "info@rusttet.fi"
MESSAGE = (
    "From: Maija <maija@example.fi>\r\nTo: info@rusttet.fi\r\nSubject: Tietopyynto\r\n"
    "Message-ID: <req-1@example.fi>\r\n\r\nHaluan tarkastaa tietoni.\r\n"
)


def _settings(protocol: str = "smtp", max_bytes: int = 30 * 1024 * 1024) -> Settings:
    settings = Settings()
    settings.mail.receiver.port = 0
    settings.mail.receiver.protocol = protocol  # type: ignore[assignment]
    settings.mail.receiver.max_message_bytes = max_bytes
    settings.organisation.addresses = [OURS, "tietosuoja@rusttet.fi"]
    return settings


async def _started(receiver: MailReceiver) -> MailReceiver:
    await receiver.start()
    return receiver


@pytest.fixture
async def receiver(sqlite_db: Database) -> AsyncIterator[MailReceiver]:
    server = await _started(MailReceiver(_settings(), sqlite_db))
    yield server
    await server.stop()


def _rows(db: Database) -> list[InboundMessage]:
    with db.read_session() as session:
        return list(session.exec(select(InboundMessage)).all())


async def _in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


def _send(port: int, rcpts: list[str], message: str = MESSAGE, sender: str = "maija@example.fi"
          ) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(sender, rcpts, message.encode())


async def test_receiver_answers_250_only_after_the_row_is_committed(
    sqlite_db: Database,
) -> None:
    seen_at_callback: list[int] = []
    # A second engine sees only what is committed.
    observer = Database(sqlite_db.url)

    def on_stored() -> None:
        seen_at_callback.append(len(_rows(observer)))

    server = await _started(MailReceiver(_settings(), sqlite_db, on_stored=on_stored))
    try:
        refused = await _in_thread(lambda: _send(server.port, [OURS]))
        assert refused == {}
        rows = _rows(observer)
        assert len(rows) == 1
        assert seen_at_callback == [1]
        assert rows[0].channel == "smtp"
        assert rows[0].envelope_from == "maija@example.fi"
        assert rows[0].envelope_to == [OURS]
        assert rows[0].message_id == "<req-1@example.fi>"
        assert b"Haluan tarkastaa tietoni." in rows[0].raw
    finally:
        await server.stop()
        observer.dispose()


async def test_receiver_refuses_foreign_recipients_with_550(
    receiver: MailReceiver, sqlite_db: Database
) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        await _in_thread(lambda: _send(receiver.port, ["someone@elsewhere.fi"]))
    code, _ = info.value.recipients["someone@elsewhere.fi"]
    assert code == 550
    assert _rows(sqlite_db) == []


async def test_receiver_accepts_our_addresses_case_insensitively_and_drops_others(
    receiver: MailReceiver, sqlite_db: Database
) -> None:
    refused = await _in_thread(
        lambda: _send(receiver.port, ["Info@Rusttet.FI", "other@elsewhere.fi"]))
    assert refused["other@elsewhere.fi"][0] == 550
    (row,) = _rows(sqlite_db)
    assert row.envelope_to == ["Info@Rusttet.FI"]


async def test_receiver_advertises_size_and_refuses_oversized_mail_with_552(
    sqlite_db: Database,
) -> None:
    server = await _started(MailReceiver(_settings(max_bytes=2048), sqlite_db))
    big = MESSAGE + ("x" * 70 + "\r\n") * 100

    def declared_size() -> int:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("size")
            assert int(client.esmtp_features["size"]) == 2048
            try:
                client.sendmail("maija@example.fi", [OURS], big.encode())
            except smtplib.SMTPSenderRefused as exc:  # SIZE= in MAIL FROM
                return exc.smtp_code
            return 250

    def undeclared_size() -> int:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            client.mail("maija@example.fi")
            client.rcpt(OURS)
            code, _ = client.data(big.encode())
            return code

    try:
        assert await _in_thread(declared_size) == 552
        assert await _in_thread(undeclared_size) == 552
        assert _rows(sqlite_db) == []
    finally:
        await server.stop()


async def test_receiver_accepts_lines_longer_than_rfc_5321_allows(
    receiver: MailReceiver, sqlite_db: Database
) -> None:
    long_line = MESSAGE + "z" * 5000 + "\r\n"
    assert await _in_thread(lambda: _send(receiver.port, [OURS], message=long_line)) == {}
    (row,) = _rows(sqlite_db)
    assert b"z" * 5000 in row.raw


async def test_receiver_answers_451_when_the_database_fails(
    receiver: MailReceiver, sqlite_db: Database
) -> None:
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE inboundmessage"))
    with pytest.raises(smtplib.SMTPDataError) as info:
        await _in_thread(lambda: _send(receiver.port, [OURS]))
    assert info.value.smtp_code == 451
    reply = info.value.smtp_error.decode()
    assert "Error" not in reply and "sqlite" not in reply.lower() and "table" not in reply
    # The connection is still usable and the next message, once the database is back, is kept.


async def test_receiver_answers_451_and_then_accepts_the_retry(
    receiver: MailReceiver, sqlite_db: Database
) -> None:
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE inboundmessage RENAME TO inbound_away"))
    with pytest.raises(smtplib.SMTPDataError):
        await _in_thread(lambda: _send(receiver.port, [OURS]))
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE inbound_away RENAME TO inboundmessage"))
    assert await _in_thread(lambda: _send(receiver.port, [OURS])) == {}
    assert len(_rows(sqlite_db)) == 1


async def test_a_retried_delivery_is_stored_once(
    receiver: MailReceiver, sqlite_db: Database
) -> None:
    calls: list[int] = []
    receiver._handler._on_stored = lambda: calls.append(1)
    await _in_thread(lambda: _send(receiver.port, [OURS]))
    await _in_thread(lambda: _send(receiver.port, [OURS]))
    assert len(_rows(sqlite_db)) == 1
    assert calls == [1]  # the pipeline is woken for new mail only


async def test_null_sender_is_stored_as_a_null_reverse_path(
    receiver: MailReceiver, sqlite_db: Database
) -> None:
    await _in_thread(lambda: _send(receiver.port, [OURS], sender="<>"))
    (row,) = _rows(sqlite_db)
    assert row.envelope_from == "<>"


async def test_receiver_works_on_postgresql_too(db: Database) -> None:
    server = await _started(MailReceiver(_settings(), db))
    try:
        assert await _in_thread(lambda: _send(server.port, [OURS])) == {}
        with db.read_session() as session:
            assert session.exec(select(func.count()).select_from(InboundMessage)).one() == 1
    finally:
        await server.stop()


# -- LMTP --------------------------------------------------------------------------------------


def _lmtp_transaction(port: int, rcpts: list[str]) -> tuple[list[int], list[int]]:
    """RCPT codes, then every DATA reply the server gives (read one per accepted recipient)."""
    client = smtplib.LMTP("127.0.0.1", port)
    try:
        client.ehlo()  # sends LHLO
        client.mail("maija@example.fi")
        rcpt_codes = [client.rcpt(r)[0] for r in rcpts]
        accepted = sum(1 for c in rcpt_codes if c == 250)
        first, _ = client.data(MESSAGE.encode())
        data_codes = [first] + [client.getreply()[0] for _ in range(accepted - 1)]
        assert client.noop()[0] == 250  # nothing extra left unread
        return rcpt_codes, data_codes
    finally:
        client.close()


async def test_lmtp_answers_data_once_per_accepted_recipient(sqlite_db: Database) -> None:
    server = await _started(MailReceiver(_settings("lmtp"), sqlite_db))
    try:
        rcpt, data = await _in_thread(lambda: _lmtp_transaction(
            server.port, [OURS, "somebody@elsewhere.fi", "tietosuoja@rusttet.fi"]))
        assert rcpt == [250, 550, 250]
        assert data == [250, 250]
        (row,) = _rows(sqlite_db)
        assert row.channel == "lmtp"
        assert row.envelope_to == [OURS, "tietosuoja@rusttet.fi"]
    finally:
        await server.stop()


async def test_lmtp_answers_451_per_recipient_when_the_database_fails(
    sqlite_db: Database,
) -> None:
    server = await _started(MailReceiver(_settings("lmtp"), sqlite_db))
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE inboundmessage"))
    try:
        _, data = await _in_thread(
            lambda: _lmtp_transaction(server.port, [OURS, "tietosuoja@rusttet.fi"]))
        assert data == [451, 451]
    finally:
        await server.stop()


async def test_lmtp_refuses_oversized_mail_per_recipient(sqlite_db: Database) -> None:
    server = await _started(MailReceiver(_settings("lmtp", max_bytes=1024), sqlite_db))

    def oversized() -> list[int]:
        client = smtplib.LMTP("127.0.0.1", server.port)
        try:
            client.ehlo()
            client.mail("maija@example.fi")
            client.rcpt(OURS)
            client.rcpt("tietosuoja@rusttet.fi")
            first, _ = client.data((MESSAGE + "y" * 4000 + "\r\n").encode())
            codes = [first, client.getreply()[0]]
            assert client.noop()[0] == 250
            return codes
        finally:
            client.close()

    try:
        assert await _in_thread(oversized) == [552, 552]
        assert _rows(sqlite_db) == []
    finally:
        await server.stop()
