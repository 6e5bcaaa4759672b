"""The long-running service: components started in one event loop, stopped on a signal.

Each channel (SMTP receiver, IMAP watcher, outbox sender, staff chat, scheduler) is a
component with ``start`` and ``stop``; the service owns their order and their shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.health.http import HealthServer
from bot.health.monitor import HealthMonitor
from bot.mail.delivery import OutboxSender
from bot.mail.imap_watcher import ImapWatcher
from bot.mail.receiver import MailReceiver
from bot.pipeline_component import PipelineComponent
from bot.policy_from_settings import signature_warning
from bot.run_state import HEARTBEAT_SECONDS, RunState, run_state_path
from bot.scheduler import Scheduler
from bot.settings import ConfigError, Settings
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
    # Proof the mailbox is alive (canary probes, silence alarm) and what a monitor reads.
    monitor = HealthMonitor.from_settings(settings, db, on_mail=sender.notify)
    if monitor.policy.canary_interval is not None or monitor.policy.silence_hours > 0:
        components.append(monitor)
    if settings.health.metrics_port:
        components.append(HealthServer(settings, db))
    # The clock: reminders, escalations, code expiry, retention, digest (all idempotent).
    if settings.scheduler.enabled:
        components.append(Scheduler.from_settings(settings, db))
    # The staff chat (the console needs no component: it is the dsrbot CLI).
    if settings.chat.backend == "telegram":
        from bot.chat.telegram_app import TelegramChat  # only then import PTB's stack

        components.append(TelegramChat(settings, db))
    # The staff desk; a decision taken there wakes the pipeline to carry it out.
    if settings.web.enabled:
        from bot.web.server import WebDesk  # only then import Starlette and uvicorn

        components.append(WebDesk(settings, db, on_change=pipeline.notify))
    return components


#: The whole shutdown (finish the message in hand, flush the outbox) fits in this budget,
#: under the 10 s that process supervisors (systemd, Docker) wait before SIGKILL.
STOP_BUDGET_SECONDS = 9.0
def check_run_config(settings: Settings) -> None:
    """Refuse, before anything starts, a configuration that a component would refuse later.

    Components check their own settings too; doing it here turns a traceback in the middle of
    start-up into one ``key: problem`` line (exit 2).
    """
    def read_secret(key: str, value: Any, path: Path | None) -> str | None:
        try:
            return settings.secret(value, path)
        except OSError as exc:
            raise ConfigError(f"{key}_file: cannot be read ({exc.strerror})") from exc

    imap = settings.mail.imap
    if imap.enabled:
        if not imap.username:
            raise ConfigError("mail.imap.username: required when mail.imap.enabled = true")
        if imap.auth == "password" and read_secret(
                "mail.imap.password", imap.password, imap.password_file) is None:
            raise ConfigError("mail.imap.password: required when mail.imap.enabled = true "
                              "(set DSRBOT_MAIL__IMAP__PASSWORD or mail.imap.password_file)")
    chat = settings.chat
    if chat.backend == "telegram":
        if not read_secret("chat.token", chat.token, chat.token_file):
            raise ConfigError("chat.token: required when chat.backend = \"telegram\" "
                              "(set DSRBOT_CHAT__TOKEN or chat.token_file)")
        if chat.telegram_chat_id is None:
            raise ConfigError("chat.telegram_chat_id: required when chat.backend = \"telegram\"")
    forward_to = settings.mail.receiver.forward_other_to
    if forward_to and forward_to in settings.organisation.addresses:
        raise ConfigError("mail.receiver.forward_other_to: must not be one of "
                          "organisation.addresses (the forward would come back: a mail loop)")
    out = settings.mail.outgoing
    if out.backend == "smtp" and out.auth == "password" and out.username and read_secret(
            "mail.outgoing.password", out.password, out.password_file) is None:
        raise ConfigError("mail.outgoing.password: username is set but no password; set "
                          "DSRBOT_MAIL__OUTGOING__PASSWORD or mail.outgoing.password_file")


async def _heartbeat(state: RunState, path: Path) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        state.heartbeat_at = datetime.now(UTC)
        try:
            await asyncio.to_thread(state.write, path)
        except OSError as exc:
            log.warning("cannot write the run-state file: %s", exc.__class__.__name__)


async def _stop_all(components: list[Component], budget: float) -> None:
    """Stop in reverse start order (receivers first, the outbox sender last, so it flushes
    what the others wrote), all within ``budget`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    for component in reversed(components):
        remaining = max(deadline - loop.time(), 0.1)
        try:
            await asyncio.wait_for(component.stop(), timeout=remaining)
        except Exception:
            log.exception("component %s did not stop cleanly", component.name,
                          extra={"component": component.name})


async def run_service(
    settings: Settings, stop: asyncio.Event | None = None, *, configure_logs: bool = True
) -> None:
    """Run until ``stop`` is set or SIGTERM/SIGINT arrives. Raises ConfigError before start."""
    check_run_config(settings)
    if configure_logs:
        from bot.logging_setup import configure_logging

        configure_logging()
    warning = signature_warning(settings)
    if warning:
        log.warning("%s", warning)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.to_thread(migrate.upgrade, settings.database.url)
    db = Database(settings.database.url, audit_key=settings.audit_key())
    with db.session() as session:
        ensure_default_parties(session)
    components = build_components(settings, db)
    started: list[Component] = []
    path = run_state_path(settings)
    heartbeat: asyncio.Task[None] | None = None
    try:
        for component in components:
            await component.start()
            started.append(component)
        now = datetime.now(UTC)
        state = RunState(pid=os.getpid(), host=socket.gethostname(), started_at=now,
                         heartbeat_at=now, components=[c.name for c in components])
        try:
            state.write(path)
        except OSError as exc:  # status then says "not running"; the service itself is fine
            log.warning("cannot write the run-state file: %s", exc.__class__.__name__)
        heartbeat = asyncio.create_task(_heartbeat(state, path), name="heartbeat")
        log.info("dsrbot running components=%s", state.components or ["none"])
        await stop.wait()
    finally:
        log.info("dsrbot stopping")
        if heartbeat is not None:
            heartbeat.cancel()
        await _stop_all(started, STOP_BUDGET_SECONDS)
        current = RunState.read(path)
        if current is not None and current.pid == os.getpid():
            path.unlink(missing_ok=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        db.dispose()
        log.info("dsrbot stopped")
