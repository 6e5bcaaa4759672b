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
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.mail.delivery.backends import backend_from_settings
from bot.mail.delivery.base import DeliveryBackend, DeliveryError, DeliverySession
from bot.settings import Settings
from mailformat import OutgoingMail, UnsafeValue, compose
from storage import outbox
from storage.db import Database

log = logging.getLogger(__name__)


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
