"""The pipeline as a service component: a thread runs it whenever mail is stored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.cpu_worker import WorkerProcess
from bot.pipeline import run_once, warm_up
from bot.policy_from_settings import intake_policy
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger(__name__)


class PipelineComponent:
    """Runs the pipeline in a thread whenever mail is stored, and on a timer as a net.

    The CPU stages run in a worker process with a deadline (see :mod:`bot.cpu_worker`), so
    neither a slow stage nor the interpreter lock it holds can stop the event loop: the SMTP
    greeting, the heartbeat and SIGTERM keep answering while a message is classified.
    """

    name = "pipeline"

    def __init__(self, db: Database, settings: Settings, poll_seconds: float = 5.0) -> None:
        self._db, self._settings, self._poll = db, settings, poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._worker = WorkerProcess(intake_policy(settings),
                                     settings.pipeline.max_seconds_per_message)
        self.after_batch: list[Callable[[], None]] = []

    def notify(self) -> None:
        """Thread-safe wake-up: receivers call this after committing a message."""
        if self._loop is not None:  # before start, the first pass picks everything up
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        """Start the worker (its model loaded) before the receivers open: once the port
        answers, mail is processed at full speed."""
        self._loop = asyncio.get_running_loop()
        # This process's own first-use loading, while the worker loads its model.
        await asyncio.gather(asyncio.to_thread(self._worker.start, lambda: self._stopping),
                             asyncio.to_thread(self._warm_up))
        self._task = asyncio.create_task(self._run(), name="pipeline")

    def _warm_up(self) -> None:
        try:
            warm_up(self._settings)
        except Exception:  # the first batch loads it then, and reports what is wrong
            log.exception("pipeline warm-up failed")

    async def _run(self) -> None:
        while not self._stopping:
            try:
                counts = await asyncio.to_thread(
                    run_once, self._db, self._settings, lambda: self._stopping, self._worker
                )
                if counts:
                    log.info("pipeline batch %s", counts)
                    for callback in self.after_batch:
                        callback()
            except Exception:
                log.exception("pipeline batch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            self._wake.clear()

    async def stop(self) -> None:
        """Commit the batch in hand if its stages are done, leave the rest ``received`` for
        the next run, and stop the worker process."""
        self._stopping = True
        self._wake.set()
        try:
            if self._task:
                await self._task
        finally:
            await asyncio.to_thread(self._worker.close)
