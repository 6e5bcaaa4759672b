"""The health monitor component: sends canary probes, watches for late ones and for silence.

It is a clock like the scheduler: each tick asks the database what is due and does it once
(a probe per interval slot, an alert per incident), so several instances and restarts are
harmless. Work runs in a worker thread; the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.policy_from_settings import health_policy
from bot.settings import Settings
from handlers import canary, health
from handlers.policy import HealthPolicy
from storage.db import Database

log = logging.getLogger(__name__)
MAX_TICK_SECONDS = 30.0


class HealthMonitor:
    name = "health-monitor"

    def __init__(self, db: Database, policy: HealthPolicy, *,
                 on_mail: Callable[[], None] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._db, self.policy = db, policy
        self._on_mail = on_mail or (lambda: None)
        self._clock = clock or (lambda: datetime.now(UTC))
        interval = policy.canary_interval.total_seconds() if policy.canary_interval else 60.0
        alert = policy.canary_alert.total_seconds()
        self.tick_seconds = max(0.2, min(MAX_TICK_SECONDS, interval / 3, alert / 3))
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings, db: Database,
                      on_mail: Callable[[], None] | None = None) -> HealthMonitor:
        return cls(db, health_policy(settings), on_mail=on_mail)

    def tick(self) -> health.HealthCheck:
        """One look: send the probe that is due, then check the canary and the silence."""
        now = self._clock()
        with self._db.session() as session:
            sent = canary.send_probe(session, self.policy, now)
        result = health.HealthCheck()
        with self._db.session() as session:
            health.check_canary(session, self.policy, now, result)
            health.check_silence(session, self.policy, now, result)
        if sent or result.opened or result.closed:
            self._on_mail()
        if result.opened or result.closed:
            log.warning("health: incidents opened=%s closed=%s", result.opened, result.closed)
        return result

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # the database may be away; the next tick tries again
                log.exception("health tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.tick_seconds)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
