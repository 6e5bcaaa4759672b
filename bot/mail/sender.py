"""The outbox sender: delivers committed outbox rows, retries with backoff, marks them sent.

Why a loop over a table rather than sending inline: the letter was committed with the state
change that caused it (``storage.outbox``), so it survives a crash, a relay outage or a
restart; this component only moves committed rows to the wire. ``notify()`` wakes it the
moment a row is committed; a poll interval is the safety net for rows written by another
process or another instance.

Delivery is at-least-once: a crash after the relay accepted a message but before
``mark_sent`` committed leaves the row leased, and it is sent again when the lease expires,
with the same Message-ID (receivers deduplicate on it).

Backends: ``maildir`` (the embedded default: the service runs with no mail server) and
``smtp`` (aiosmtplib: STARTTLS or implicit TLS, optional login). Only this module speaks SMTP;
the domain never opens a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from bot.settings import ConfigError, Settings
from mailformat import OutgoingMail, UnsafeValue, compose, to_bytes
from storage import outbox
from storage.db import Database

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A delivery that did not happen.

    ``reason`` is short and free of personal data (it goes to the audit log and the logs);
    ``detail`` may quote the server's reply and is kept on the row only. ``permanent`` means
    retrying cannot help (a 5xx for this recipient or this message).
    """

    def __init__(self, reason: str, *, permanent: bool = False, detail: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.detail = detail or reason


class DeliverySession(Protocol):
    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        """Hand one message over, or raise :class:`DeliveryError`."""
        ...


class DeliveryBackend(Protocol):
    name: str

    def open(self) -> AbstractAsyncContextManager[DeliverySession]:
        """One batch of deliveries (one SMTP connection for the batch)."""
        ...


class MaildirBackend:
    """Writes each message as a file into a local maildir (``new/``), atomically (tmp + rename).

    The message is stored with LF line ends, as maildir readers expect. The file is named after
    the Message-ID, so a letter resent after a crash (delivered, but not yet recorded as sent)
    finds its file already there and is not written twice.
    """

    name = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _write(self, data: bytes, message_id: str) -> str:
        key = "dsrbot-" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        if (self.path / "new" / key).exists() or any((self.path / "cur").glob(key + "*")):
            return key  # already delivered (a mail client may have moved it to cur/)
        tmp = self.path / "tmp" / f"{key}.{os.getpid()}"
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / "new" / key)
        return key

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        data = to_bytes(message, linesep="\n")
        try:
            await asyncio.to_thread(self._write, data, str(message["Message-ID"] or ""))
        except OSError as exc:
            raise DeliveryError(f"maildir write failed: {exc.__class__.__name__}",
                                detail=f"maildir write failed: {exc}") from exc

    @asynccontextmanager
    async def open(self) -> AsyncIterator[DeliverySession]:
        yield self


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
    ) -> None:
        self.host, self.port = host, port
        self.starttls, self.use_tls = starttls, use_tls
        self.username, self.password = username, password
        self.timeout = timeout
        self.tls_context = tls_context
        self.local_hostname = local_hostname

    def client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, use_tls=self.use_tls,
            start_tls=bool(self.starttls and not self.use_tls),
            username=self.username or None, password=self.password if self.username else None,
            timeout=self.timeout, tls_context=self.tls_context,
            local_hostname=self.local_hostname,
        )

    @asynccontextmanager
    async def open(self) -> AsyncIterator[DeliverySession]:
        session = _SmtpSession(self)
        try:
            yield session
        finally:
            await session.close()


def backend_from_settings(settings: Settings) -> DeliveryBackend:
    out = settings.mail.outgoing
    if out.backend == "maildir":
        return MaildirBackend(out.maildir)
    password: str | None = None
    if out.username:
        try:
            password = settings.secret(out.password, out.password_file)
        except OSError as exc:
            raise ConfigError(
                f"mail.outgoing.password_file: cannot be read ({exc.strerror})") from exc
        if password is None:
            raise ConfigError("mail.outgoing.password: username is set but no password; set "
                              "DSRBOT_MAIL__OUTGOING__PASSWORD or mail.outgoing.password_file")
    return SmtpBackend(out.host, out.port, starttls=out.starttls, use_tls=out.use_tls,
                       username=out.username, password=password)


@dataclass
class PassResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


class OutboxSender:
    """The delivery loop as a service component (``name``, ``start``, ``stop``)."""

    name = "outbox-sender"

    def __init__(
        self,
        db: Database,
        backend: DeliveryBackend,
        *,
        from_address: str,
        from_name: str | None = None,
        max_attempts: int = 12,
        poll_seconds: float = 30.0,
        batch_size: int = 20,
        lease: timedelta = outbox.DEFAULT_LEASE,
        backoff: outbox.Backoff = outbox.Backoff(),
        stop_timeout: float = 5.0,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self.backend = backend
        self.from_address = from_address
        self.from_name = from_name
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.lease = lease
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    def from_settings(cls, settings: Settings, db: Database, **overrides: object
                      ) -> OutboxSender:
        out = settings.mail.outgoing
        kwargs: dict[str, object] = {
            "from_address": out.from_address, "from_name": settings.organisation.name,
            "max_attempts": out.max_attempts, "lease": timedelta(seconds=out.lease_seconds),
        }
        kwargs.update(overrides)
        return cls(db, backend_from_settings(settings), **kwargs)  # type: ignore[arg-type]

    # -- waking ---------------------------------------------------------------------------
    def notify(self) -> None:
        """Send new rows now. Safe from the event loop and from worker threads."""
        loop = self._loop
        if loop is None:
            return  # not started: the first pass at start picks the rows up
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)
        log.info("outbox sender started backend=%s", self.backend.name)

    async def stop(self) -> None:
        """Finish the delivery in hand, send what is due, all within ``stop_timeout``."""
        self._stopping = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_timeout
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=self.stop_timeout)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        remaining = deadline - loop.time()
        if remaining > 0:
            sent = await self.flush(remaining)
            if sent:
                log.info("outbox sender flushed sent=%s", sent)
        log.info("outbox sender stopped")

    async def flush(self, timeout: float) -> int:
        """Deliver every due row (used at shutdown); return how many were sent in time."""
        sent = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = await self.send_due()
                    sent += result.sent
                    if result.claimed == 0:
                        break
        except TimeoutError:
            log.warning("outbox flush stopped by its timeout sent=%s", sent)
        return sent

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            result = PassResult()
            try:
                result = await self.send_due()
            except Exception:
                log.exception("outbox pass failed; retrying after the poll interval")
            if self._stopping:
                break
            if result.claimed >= self.batch_size:
                continue  # more may be due: drain before sleeping
            await self._sleep(await self._seconds_until_due())

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))

    async def _seconds_until_due(self) -> float:
        try:
            due = await asyncio.to_thread(self._next_due)
        except Exception:
            log.exception("outbox: cannot read the next due time")
            return self.poll_seconds
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.0, (due - self._clock()).total_seconds()))

    def _next_due(self) -> datetime | None:
        with self._db.read_session() as session:
            return outbox.next_due_at(session)

    # -- one pass -------------------------------------------------------------------------
    def _claim(self) -> list[OutgoingMail]:
        with self._db.session() as session:
            return outbox.claim_due(session, self._clock(), self.batch_size, lease=self.lease,
                                    max_attempts=self.max_attempts)

    def _mark_sent(self, outbound_id: int) -> None:
        with self._db.session() as session:
            outbox.mark_sent(session, outbound_id, now=self._clock())

    def _mark_failed(self, outbound_id: int, error: DeliveryError) -> str:
        with self._db.session() as session:
            row = outbox.mark_failed_attempt(
                session, outbound_id, reason=error.reason, error=error.detail,
                permanent=error.permanent, max_attempts=self.max_attempts, now=self._clock(),
                backoff=self.backoff, rng=self._rng,
            )
            return row.state if row is not None else "gone"

    async def send_due(self) -> PassResult:
        """Claim due rows and deliver them, one batch. Serialised with ``flush``."""
        async with self._pass_lock:
            mails = await asyncio.to_thread(self._claim)
            result = PassResult(claimed=len(mails))
            if not mails:
                return result
            async with self.backend.open() as conn:
                for mail in mails:
                    outcome = await self._deliver_one(conn, mail)
                    if outcome == "sent":
                        result.sent += 1
                    elif outcome == "failed":
                        result.failed += 1
                    else:
                        result.retried += 1
            return result

    async def _deliver_one(self, conn: DeliverySession, mail: OutgoingMail) -> str:
        try:
            message = compose(mail, from_address=self.from_address, from_name=self.from_name)
            await conn.deliver(message, sender=self.from_address, recipient=mail.recipient)
        except UnsafeValue as exc:
            error = DeliveryError("letter cannot be composed", permanent=True, detail=str(exc))
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in a backend must not stop the loop
            log.exception("outbox delivery crashed outbound_id=%s", mail.outbound_id)
            error = DeliveryError(f"internal error: {exc.__class__.__name__}")
        else:
            try:
                await asyncio.to_thread(self._mark_sent, mail.outbound_id)
            except Exception:
                # Delivered but not recorded: the lease expires and it is resent with the
                # same Message-ID, which the receiver drops as a duplicate.
                log.exception("outbox: delivered but not marked sent outbound_id=%s",
                              mail.outbound_id)
                return "retry"
            log.info("outbox sent outbound_id=%s case=%s kind=%s attempt=%s",
                     mail.outbound_id, mail.case_id, mail.kind, mail.attempts)
            return "sent"
        state = await asyncio.to_thread(self._mark_failed, mail.outbound_id, error)
        log.warning("outbox delivery failed outbound_id=%s case=%s attempt=%s reason=%s "
                    "state=%s", mail.outbound_id, mail.case_id, mail.attempts, error.reason,
                    state)
        return "failed" if state == "failed" else "retry"
