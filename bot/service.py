"""The long-running service: components started in one event loop, stopped on a signal.

Each channel (SMTP receiver, IMAP watcher, outbox sender, staff chat, scheduler) is a
component with ``start`` and ``stop``; the service owns their order and their shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol

from bot.mail.imap_watcher import ImapWatcher
from bot.mail.receiver import MailReceiver
from bot.mail.sender import OutboxSender
from bot.pipeline import PipelineComponent
from bot.scheduler import Scheduler
from bot.settings import Settings
from storage import migrate
from storage.db import Database
from storage.register import ensure_default_parties

log = logging.getLogger(__name__)


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def build_components(settings: Settings, db: Database) -> list[Component]:
    """The channels this configuration enables (filled in as channels land)."""
    components: list[Component] = []
    # The outbox sender always runs: with the default maildir backend it needs no server.
    # It stops last (components stop in reverse), so it can flush what the others wrote.
    sender = OutboxSender.from_settings(settings, db)
    pipeline = PipelineComponent(db, settings)
    pipeline.after_batch.append(sender.notify)
    components += [sender, pipeline]
    # Mail in: a stored message wakes the pipeline at once (the poll is only a safety net).
    if settings.mail.receiver.enabled:
        components.append(MailReceiver(settings, db, on_stored=pipeline.notify))
    if settings.mail.imap.enabled:
        watcher = ImapWatcher(settings, db, on_stored=pipeline.notify)
        # Requests leave INBOX as soon as the pipeline made them cases.
        pipeline.after_batch.append(watcher.wake)
        components.append(watcher)
    # The clock: reminders, escalations, code expiry, retention, digest (all idempotent).
    if settings.scheduler.enabled:
        components.append(Scheduler.from_settings(settings, db))
    # The staff chat (the console needs no component: it is the dsrbot CLI).
    if settings.chat.backend == "telegram":
        from bot.chat.telegram_app import TelegramChat  # only then import PTB's stack

        components.append(TelegramChat(settings, db))
    return components


async def run_service(settings: Settings, stop: asyncio.Event | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.to_thread(migrate.upgrade, settings.database.url)
    db = Database(settings.database.url)
    with db.session() as session:
        ensure_default_parties(session)
    components = build_components(settings, db)
    for component in components:
        await component.start()
    log.info("dsrbot running components=%s", [c.name for c in components] or ["none"])
    try:
        await stop.wait()
    finally:
        log.info("dsrbot stopping")
        for component in reversed(components):
            try:
                await asyncio.wait_for(component.stop(), timeout=10)
            except Exception:
                log.exception("component %s did not stop cleanly", component.name)
        db.dispose()
        log.info("dsrbot stopped")
