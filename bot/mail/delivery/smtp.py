"""The SMTP backend (aiosmtplib): STARTTLS or implicit TLS, optional login (password, or
SASL XOAUTH2 with a cached OAuth2 token: Exchange Online and Gmail submission).

A refused XOAUTH2 login drops the cached token, so the retry (the outbox's own backoff) logs in
with a fresh one; the letter stays pending meanwhile, and is sent once. SMTP replies are
mapped to permanent (5xx) or temporary (4xx, network) delivery errors.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage

import aiosmtplib

from bot.mail.delivery.base import DeliveryError, DeliverySession
from bot.mail.oauth import TokenError, TokenProvider
from mailformat import to_bytes


def _smtp_error(exc: BaseException) -> DeliveryError:
    """Sort an aiosmtplib or socket error into transient (retry) or permanent (give up)."""
    detail = f"{exc.__class__.__name__}: {exc}"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return DeliveryError(f"smtp {exc.code} recipient refused",
                             permanent=500 <= exc.code < 600, detail=detail)
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return DeliveryError(f"smtp {exc.code} message refused",
                             permanent=500 <= exc.code < 600, detail=detail)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        # Our own envelope sender refused: a relay or configuration problem, not this letter's.
        return DeliveryError(f"smtp {exc.code} sender refused", detail=detail)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryError(f"smtp {exc.code} login refused", detail=detail)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(f"smtp {exc.code}", detail=detail)
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return DeliveryError("relay timed out", detail=detail)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"tls failed: {exc.__class__.__name__}", detail=detail)
    return DeliveryError(f"relay unreachable: {exc.__class__.__name__}", detail=detail)


class _SmtpSession:
    """One connection for a batch, opened on the first delivery, reused, closed at the end.

    If the relay cannot be reached, the rest of the batch fails at once with the same
    transient error instead of each row waiting for its own connection timeout.
    """

    def __init__(self, backend: SmtpBackend) -> None:
        self._backend = backend
        self._client: aiosmtplib.SMTP | None = None
        self._broken: DeliveryError | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._broken is not None:
            raise self._broken
        if self._client is None or not self._client.is_connected:
            client = self._backend.client()
            try:
                await client.connect()
                await self._backend.oauth_login(client)
            except TokenError as exc:
                self._broken = DeliveryError(f"oauth2 token: {exc}")
                raise self._broken from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                self._broken = _smtp_error(exc)
                raise self._broken from exc
            self._client = client
        return self._client

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        client = await self._connected()
        try:
            await client.sendmail(sender, [recipient], to_bytes(message))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self._reset(client)
            raise _smtp_error(exc) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset(client)
            raise _smtp_error(exc) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self._client = None
            raise _smtp_error(exc) from exc

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            self._client = None

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self._client.close()
        self._client = None


class SmtpBackend:
    """Delivers through an SMTP relay with aiosmtplib.

    ``starttls=True`` requires STARTTLS (no silent fallback to plain text); ``use_tls`` is
    implicit TLS (port 465). With neither, the connection stays plain (a local relay).
    """

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        use_tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        tokens: TokenProvider | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.starttls, self.use_tls = starttls, use_tls
        self.username, self.password = username, password
        self.timeout = timeout
        self.tls_context = tls_context
        self.local_hostname = local_hostname
        self.tokens = tokens

    def client(self) -> aiosmtplib.SMTP:
        password_login = bool(self.username) and self.tokens is None
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, use_tls=self.use_tls,
            start_tls=bool(self.starttls and not self.use_tls),
            username=self.username if password_login else None,
            password=self.password if password_login else None,
            timeout=self.timeout, tls_context=self.tls_context,
            local_hostname=self.local_hostname,
        )

    async def oauth_login(self, client: aiosmtplib.SMTP) -> None:
        """AUTH XOAUTH2 after connect (and STARTTLS); a refusal forgets the cached token."""
        if self.tokens is None or not self.username:
            return
        token = await asyncio.to_thread(self.tokens.token)
        try:
            await client.auth_xoauth2(self.username, token.value)
        except aiosmtplib.SMTPAuthenticationError:
            self.tokens.invalidate()
            raise

    @asynccontextmanager
    async def open(self) -> AsyncIterator[DeliverySession]:
        session = _SmtpSession(self)
        try:
            yield session
        finally:
            await session.close()
