"""OAuth2 (SASL XOAUTH2) against real servers (issue 20): Dovecot with its ``oauth2`` passdb and
an aiosmtpd relay both check our tokens at a token + introspection server the test runs.

The watcher logs in with a token it fetched, renews it when it expires without losing or
repeating a message, and on a revoked token logs a clear error, retries with backoff and alerts
staff after ``alert_after_failures`` failures in a row; the SMTP sender authenticates with
XOAUTH2 and, refused, fetches a fresh token and sends the letter once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult
from pydantic import SecretStr
from sqlmodel import col, select

from bot.mail.delivery.base import DeliveryError
from bot.mail.delivery.smtp import SmtpBackend
from bot.mail.imap_watcher import ImapWatcher
from bot.mail.oauth.sources import GenericSource
from bot.mail.oauth.tokens import TokenProvider
from bot.settings import Settings
from storage.db import Database
from storage.models import ChatNotification, InboundMessage
from tests.conftest import missing_service
from tests.fixtures.dovecot import DovecotServer, find_dovecot
from tests.fixtures.smtp_sink import SinkHandler, SmtpSink
from tests.fixtures.token_server import CLIENT_ID, CLIENT_SECRET, TokenServer

SECRET_IN_LOGS = CLIENT_SECRET


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenServer]:
    server = TokenServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot_server(tokens: TokenServer) -> Iterator[DovecotServer]:
    binary = find_dovecot()
    if binary is None:
        missing_service("Dovecot is not installed (apt-get install dovecot-imapd)")
        return
    server = DovecotServer(binary, introspection_url=tokens.introspection_url)
    try:
        server.start()
    except RuntimeError as exc:
        server.cleanup()
        missing_service(f"Dovecot did not start: {exc}")
        return
    yield server
    server.cleanup()


@pytest.fixture
def mailbox(oauth_dovecot_server: DovecotServer, tokens: TokenServer) -> DovecotServer:
    if oauth_dovecot_server.process is None:
        oauth_dovecot_server.start()
    oauth_dovecot_server.new_user()
    tokens.username, tokens.ttl, tokens.deny = oauth_dovecot_server.user, 3600.0, False
    return oauth_dovecot_server


def _settings(server: DovecotServer, tokens: TokenServer, *, margin: int = 0) -> Settings:
    settings = Settings()
    imap = settings.mail.imap
    imap.enabled, imap.auth = True, "oauth2"
    imap.host, imap.port, imap.ssl = server.host, server.port, False
    imap.username = server.user
    imap.poll_seconds = 0.3
    imap.alert_after_failures = 3
    imap.oauth2.provider = "generic"
    imap.oauth2.token_url = tokens.token_url
    imap.oauth2.client_id, imap.oauth2.client_secret = CLIENT_ID, SecretStr(CLIENT_SECRET)
    imap.oauth2.refresh_margin_seconds = margin
    return settings


def _mail(n: int) -> bytes:
    return (f"From: Maija <maija{n}@example.fi>\r\nTo: info@rusttet.fi\r\nSubject: Pyyntö {n}\r\n"
            f"Message-ID: <oauth-{n}@example.fi>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0200\r\n"
            f"\r\nHaluan tarkastaa tietoni ({n}).\r\n").encode()


def _message_ids(db: Database) -> list[str]:
    with db.read_session() as s:
        return [r.message_id or "" for r in
                s.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all()]


def _chat_texts(db: Database) -> list[str]:
    with db.read_session() as s:
        return [str(r.payload.get("text", "")) for r in s.exec(select(ChatNotification)).all()]


async def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def started(mailbox: DovecotServer, tokens: TokenServer, sqlite_db: Database
                  ) -> AsyncIterator[Callable[[Settings], Any]]:
    running: list[ImapWatcher] = []

    async def start(settings: Settings) -> ImapWatcher:
        w = ImapWatcher(settings, sqlite_db, backoff_initial=0.2, backoff_max=0.5)
        await w.start()
        running.append(w)
        return w

    yield start
    for w in running:
        await w.stop()


async def test_the_watcher_logs_in_with_a_token_and_stores_new_mail(
    mailbox: DovecotServer, tokens: TokenServer, sqlite_db: Database,
    started: Callable[[Settings], Any], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    before = tokens.issued
    watcher = await started(_settings(mailbox, tokens))
    await _until(lambda: watcher.syncs >= 1)
    mailbox.append(_mail(1))
    watcher.wake()
    await _until(lambda: _message_ids(sqlite_db) == ["<oauth-1@example.fi>"])
    assert tokens.issued == before + 1 and tokens.introspections >= 1
    assert SECRET_IN_LOGS not in caplog.text
    assert not any(t in caplog.text for t in tokens.tokens)  # no token reaches a log


async def test_an_expired_token_is_renewed_without_losing_or_repeating_mail(
    mailbox: DovecotServer, tokens: TokenServer, sqlite_db: Database,
    started: Callable[[Settings], Any],
) -> None:
    tokens.ttl = 2.0
    before = tokens.issued
    watcher = await started(_settings(mailbox, tokens))
    await _until(lambda: watcher.syncs >= 1)
    mailbox.append(_mail(1))
    watcher.wake()
    await _until(lambda: len(_message_ids(sqlite_db)) == 1)
    await _until(lambda: tokens.issued >= before + 3)  # two expiries, two fresh logins
    mailbox.append(_mail(2))
    watcher.wake()
    await _until(lambda: len(_message_ids(sqlite_db)) == 2)
    await asyncio.sleep(2.5)  # another renewal: nothing is stored twice
    assert _message_ids(sqlite_db) == ["<oauth-1@example.fi>", "<oauth-2@example.fi>"]


async def test_a_revoked_token_is_retried_and_staff_are_alerted_after_n_failures(
    mailbox: DovecotServer, tokens: TokenServer, sqlite_db: Database,
    started: Callable[[Settings], Any], caplog: pytest.LogCaptureFixture,
) -> None:
    watcher = await started(_settings(mailbox, tokens))
    await _until(lambda: watcher.syncs >= 1)
    tokens.revoke_all()
    tokens.deny = True  # consent withdrawn: no new token either
    await asyncio.to_thread(mailbox.restart)  # the session ends; the next login must fail
    await _until(lambda: any("IMAP login" in t for t in _chat_texts(sqlite_db)))
    alerts = [t for t in _chat_texts(sqlite_db) if "IMAP login" in t]
    assert len(alerts) == 1 and "3 times in a row" in alerts[0]
    assert "login refused" in caplog.text or "invalid_grant" in caplog.text
    assert not any(t in caplog.text for t in tokens.tokens)
    tokens.deny = False  # fixed: the watcher logs in again by itself
    mailbox.append(_mail(3))
    await _until(lambda: _message_ids(sqlite_db) == ["<oauth-3@example.fi>"], timeout=30)


# --- SMTP submission with XOAUTH2 ------------------------------------------------------------


@dataclass
class OAuthRelayHandler(SinkHandler):
    """The sink, plus AUTH XOAUTH2 checked at the token server's introspection endpoint."""

    introspection_url: str = ""
    logins: int = 0

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        fields = dict(p.split("=", 1) for p in raw.split("\x01") if "=" in p)
        token = fields.get("auth", "").removeprefix("Bearer ")
        answer = await asyncio.to_thread(self._introspect, token)
        ok = answer.get("active") == "true" and answer.get("username") == fields.get("user")
        self.logins += int(ok)
        return AuthResult(success=ok, handled=False)

    def _introspect(self, token: str) -> dict[str, Any]:
        data = urllib.parse.urlencode({"token": token}).encode()
        with urllib.request.urlopen(self.introspection_url, data=data, timeout=10) as resp:
            return dict(json.loads(resp.read()))


def _letter(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "info@rusttet.fi", "maija@example.fi", f"Vastaus {n}"
    msg["Message-ID"] = f"<letter-{n}@rusttet.fi>"
    msg.set_content("Hei")
    return msg


async def test_the_sender_authenticates_with_xoauth2_and_renews_a_refused_token(
    tokens: TokenServer, tmp_path: Path,
) -> None:
    tokens.username, tokens.ttl, tokens.deny = "info@rusttet.fi", 3600.0, False
    sink = SmtpSink(auth_require_tls=False)
    sink.handler = OAuthRelayHandler(introspection_url=tokens.introspection_url)
    await sink.start()
    provider = TokenProvider(GenericSource(tokens.token_url, CLIENT_ID, CLIENT_SECRET, None, ""),
                             margin=0)
    backend = SmtpBackend("127.0.0.1", sink.port, username="info@rusttet.fi", tokens=provider,
                          timeout=10)
    try:
        async with backend.open() as session:
            await session.deliver(_letter(1), sender="info@rusttet.fi",
                                  recipient="maija@example.fi")
        tokens.revoke_all()
        with pytest.raises(DeliveryError, match="login refused") as refused:
            async with backend.open() as session:
                await session.deliver(_letter(2), sender="info@rusttet.fi",
                                      recipient="maija@example.fi")
        assert not refused.value.permanent  # the outbox keeps it and tries again
        async with backend.open() as session:  # the retry: a fresh token, sent once
            await session.deliver(_letter(2), sender="info@rusttet.fi",
                                  recipient="maija@example.fi")
    finally:
        await sink.stop()
    handler = sink.handler
    assert isinstance(handler, OAuthRelayHandler)
    assert handler.logins == 2 and provider.fetches == 2
    assert [c.message["Subject"] for c in sink.captured] == ["Vastaus 1", "Vastaus 2"]
