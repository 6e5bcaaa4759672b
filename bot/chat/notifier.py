"""Delivers the chat outbox (:mod:`storage.chat_outbox`) to the staff chat, with retry.

Why a loop of its own: sending to Telegram happens after the case change has committed, never
inside it, so a Telegram outage, a timeout or a rate limit only delays the message. Each tick:

1. sweep: write rows for cases the chat shows out of date (new cases from the mail pipeline,
   decisions taken on the console);
2. claim due rows (one per case) under a lease;
3. render each case as it is now and send it, or edit the message that already shows it;
4. record the result: sent (and which message shows the case), or the next attempt.

Transient failures (network errors, timeouts, 5xx, "retry after") are retried for ever with
capped exponential backoff; a refusal from Telegram (bad request, forbidden) is retried a few
times and then marked ``failed`` and logged, so one broken message cannot block the others.
Logs carry case ids, row ids and error classes only, never message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.chat.render import PersonalData, render_case
from bot.chat.views import CaseView, load_case_view
from handlers import deadlines
from storage import chat_outbox
from storage.chat_outbox import Claimed
from storage.db import Database
from storage.outbox import Backoff

log = logging.getLogger(__name__)
T = TypeVar("T")

#: A refused (non-transient) message is tried this many times before it is marked failed.
MAX_REFUSED_ATTEMPTS = 5
_NOT_MODIFIED = "message is not modified"
_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")


class _Transient(Exception):
    """A failure worth retrying until Telegram is back; ``after`` overrides the backoff."""

    def __init__(self, error: str, after: timedelta | None = None) -> None:
        super().__init__(error)
        self.after = after


class Notifier:
    """The delivery loop. ``wake()`` after writing a row to deliver it without waiting a tick."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        chat_id: int,
        personal_data: PersonalData,
        tz: str,
        poll_interval: float = 2.0,
        batch: int = 20,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] | None = None,
        desk_url: str = "",
    ) -> None:
        self.db = db
        self.bot = bot
        self.chat_id = chat_id
        self.personal_data: PersonalData = personal_data
        self.tz = tz
        self.desk_url = desk_url
        self.poll_interval = poll_interval
        self.batch = batch
        self.backoff = backoff or Backoff(base=timedelta(seconds=5), cap=timedelta(minutes=10))
        self.clock = clock or (lambda: datetime.now(UTC))
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set. Never raises: a failing tick is logged and retried."""
        while not stop.is_set():
            try:
                await self.deliver_once()
            except Exception:  # the database may be briefly away; try again next tick
                log.exception("chat notifier tick failed")
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=self.poll_interval,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def deliver_once(self) -> int:
        """One tick: sweep, claim, deliver. Returns how many rows were attempted."""
        now = self.clock()
        claimed = await asyncio.to_thread(self._sweep_and_claim, now)
        for item in claimed:
            await self._deliver(item)
        return len(claimed)

    def _sweep_and_claim(self, now: datetime) -> list[Claimed]:
        with self.db.session() as session:
            added = chat_outbox.enqueue_stale_cases(session, self.chat_id, now=now)
            if added:
                log.info("chat: %d case(s) to show or refresh", len(added))
        with self.db.session() as session:
            return chat_outbox.claim_due(session, now, self.batch)

    async def _deliver(self, item: Claimed) -> None:
        try:
            if item.kind == chat_outbox.KIND_CASE and item.case_id is not None:
                await self._deliver_case(item, item.case_id)
            else:
                message = await self._call(self.bot.send_message(
                    chat_id=self.chat_id, text=str(item.payload.get("text", ""))[:4096]))
                await asyncio.to_thread(self._mark_sent, item, message.message_id, None)
        except _Transient as exc:
            delay = exc.after or self.backoff.delay(item.attempts)
            log.warning("chat: notification %s (case %s) not delivered, retry in %ds: %s",
                        item.id, item.case_id, delay.total_seconds(), exc)
            await asyncio.to_thread(self._mark_failed, item, str(exc), self.clock() + delay)
        except TelegramError as exc:
            error = f"{exc.__class__.__name__}: {exc.message}"
            give_up = item.attempts >= MAX_REFUSED_ATTEMPTS
            retry_at = None if give_up else self.clock() + self.backoff.delay(item.attempts)
            log.error("chat: Telegram refused notification %s (case %s)%s: %s", item.id,
                      item.case_id, ", giving up" if give_up else "", exc.__class__.__name__)
            await asyncio.to_thread(self._mark_failed, item, error, retry_at)

    async def _deliver_case(self, item: Claimed, case_id: str) -> None:
        view, shown = await asyncio.to_thread(self._load, case_id)
        if view is None:
            await asyncio.to_thread(self._mark_failed, item, "case not found", None)
            return
        today = deadlines.local_date(self.clock(), self.tz)
        rendered = render_case(view, personal_data=self.personal_data, tz=self.tz, today=today,
                               desk_url=self.desk_url)
        message_id = None
        if shown is not None:
            message_id = await self._edit(shown, rendered.text, rendered.keyboard)
        if message_id is None:
            message = await self._call(self.bot.send_message(
                chat_id=self.chat_id, text=rendered.text, reply_markup=rendered.keyboard))
            message_id = message.message_id
        await asyncio.to_thread(self._mark_sent, item, message_id, view.case.updated_at)
        log.info("chat: case %s shown in message %s", case_id, message_id)

    async def _edit(
        self, message_id: int, text: str, keyboard: InlineKeyboardMarkup | None
    ) -> int | None:
        """Edit in place; None when the old message is gone (then a new one is sent)."""
        try:
            await self._call(self.bot.edit_message_text(
                chat_id=self.chat_id, message_id=message_id, text=text, reply_markup=keyboard))
        except BadRequest as exc:
            lowered = exc.message.lower()
            if _NOT_MODIFIED in lowered:
                return message_id
            if any(g in lowered for g in _GONE):
                return None
            raise
        return message_id

    @staticmethod
    async def _call(awaitable: Awaitable[T]) -> T:
        """Await a Bot call, turning transient failures into :class:`_Transient`."""
        try:
            return await awaitable
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB 22 warns that this becomes a timedelta
                warnings.simplefilter("ignore")
                after = exc.retry_after
            seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
            raise _Transient("RetryAfter", timedelta(seconds=seconds)) from exc
        except BadRequest:
            raise
        except NetworkError as exc:  # includes TimedOut and HTTP 5xx
            raise _Transient(f"{exc.__class__.__name__}: {exc.message}"[:200]) from exc

    def _load(self, case_id: str) -> tuple[CaseView | None, int | None]:
        with self.db.read_session() as session:
            view = load_case_view(session, case_id)
            link = chat_outbox.message_for(session, case_id, self.chat_id)
            return view, (link.message_id if link else None)

    def _mark_sent(self, item: Claimed, message_id: int, synced_at: datetime | None) -> None:
        with self.db.session() as session:
            chat_outbox.mark_sent(session, item, now=self.clock(), chat_id=self.chat_id,
                                  message_id=message_id, synced_at=synced_at)

    def _mark_failed(self, item: Claimed, error: str, retry_at: datetime | None) -> None:
        with self.db.session() as session:
            chat_outbox.mark_failed_attempt(session, item, error=error, retry_at=retry_at)


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it, swallowing its cancellation."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
