"""The CPU stages (parse, triage, classify) where they can be stopped: a worker process.

A regex or a model holds the interpreter lock while it runs, so a thread cannot be stopped
and, while it runs, the SMTP greeting, the heartbeat and SIGTERM wait (issue 14: one 1 MB
mail froze the service for minutes, and again after every restart). In a separate process the
CPU work holds only its own interpreter: the service keeps answering, and a message that
overruns ``pipeline.max_seconds_per_message`` is stopped by killing the worker, which is then
replaced. The worker is started with ``forkserver`` (never ``fork``: the service has threads)
and kept warm with the model loaded.

Messages are sent ahead (the worker classifies the next batch while the service commits the
last one). The worker posts which message it is on, its stage and since when (a monotonic
time stamp) on a :class:`Board` in shared memory, which the service's timer reads when it
wakes: the deadline counts from when the worker began that message, not from when the service
came to read it, and the pipe carries only one outcome per message (four stage reports per
mail through the pipe cost the main process as much CPU as a tenth of its commit work).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from handlers import intake
from handlers.intake import Stop, Work
from handlers.policy import IntakePolicy

log = logging.getLogger(__name__)

#: How long a new worker may take to import everything and load the model.
WARM_UP_SECONDS = 120.0
#: How often a wait looks at ``should_stop`` (SIGTERM is answered within this).
POLL_SECONDS = 0.1
#: A message the worker has not begun (no stage reported) within the budget plus this grace,
#: counted from when it became the oldest pending one, counts as overrun in "parse": a worker
#: that hangs between messages (stopped, deadlocked in unpickling) must not hold the service.
START_GRACE_SECONDS = 5.0
#: Imported once by the fork server, so a replacement worker starts in a fraction of a second
#: (importing spaCy and the stages takes seconds) and only loads the model.
PRELOAD = ["bot.pipeline"]
#: Mail that takes every path of the stages once (lazy tables, the model, language profiles),
#: so the first real message is not charged for loading them.
WARM_UP_MAILS = (
    "Subject: Tietojen poisto\r\nFrom: Maija <maija@example.fi>\r\n\r\nHei, poistakaa kaikki "
    "tietoni rekisterist\u00e4nne. Asiakasnumero 100234.\r\n\r\nTerveisin\r\nMaija "
    "Meik\u00e4l\u00e4inen\r\nH\u00e4meenkatu 12 B 7, 33100 Tampere\r\npuh. 040 123 4567\r\n",
    "Subject: Re: Order 5001234\r\nFrom: john@example.com\r\n\r\nHello, when will my order "
    "arrive? Also please stop sending me marketing.\r\n\r\nOn Mon, X wrote:\r\n> old\r\n",
    "Subject: Fel namn\r\nFrom: anna@example.se\r\n\r\nHej, mitt namn \u00e4r felstavat, "
    "det ska vara Anna Lind. Tack\r\n",
)


@dataclass(frozen=True)
class Done:
    work: Work
    stop: Stop | None


@dataclass(frozen=True)
class Overran:
    """The message needed longer than the budget in ``stage``; its worker was killed."""

    work: Work
    stage: str


@dataclass(frozen=True)
class Failed:
    """A stage raised (``error`` is the exception's class name, never its text)."""

    work: Work
    stage: str
    error: str


Outcome = Done | Overran | Failed
CpuStages = tuple[tuple[str, Callable[[Work, intake.Context], Stop | None]], ...]


class Interrupted(Exception):
    """The service is stopping: the messages in hand stay ``received`` for the next run."""


class CpuRunner(Protocol):
    """Runs the CPU stages of messages in the order submitted."""

    def submit(self, work: Work, now: datetime) -> None: ...

    def next_outcome(self, should_stop: Callable[[], bool]) -> Outcome: ...

    def close(self) -> None: ...


def run_stages(stages: CpuStages, work: Work, ctx: intake.Context,
               started: Callable[[str], None] = lambda _name: None) -> Outcome:
    stage = stages[0][0] if stages else ""
    try:
        for stage, run in stages:
            started(stage)
            stop = run(work, ctx)
            if stop:
                return Done(work, stop)
    except Exception as exc:  # one bad message never stops the others
        log.exception("stage %s failed inbound_id=%s", stage, work.inbound_id)
        return Failed(work, stage, exc.__class__.__name__)
    return Done(work, None)


class InProcessRunner:
    """The stages in the calling thread, no budget: for commands and tests that run the
    pipeline once (``dsrbot process``), where nothing else waits on the interpreter."""

    def __init__(self, stages: CpuStages, policy: IntakePolicy) -> None:
        self._stages, self._policy = stages, policy
        self._queue: deque[tuple[Work, datetime]] = deque()

    def submit(self, work: Work, now: datetime) -> None:
        self._queue.append((work, now))

    def next_outcome(self, should_stop: Callable[[], bool]) -> Outcome:
        work, now = self._queue.popleft()
        return run_stages(self._stages, work, intake.Context(policy=self._policy, now=now))

    def close(self) -> None:
        self._queue.clear()


class Board:
    """Where the worker is, in shared memory: the count of messages it has begun, the index of
    the stage the last one is in (-1 once it is finished) and when it began (monotonic).

    Written only by the worker, read by the service's timer. A version counter, odd while a
    write is under way (a seqlock), keeps a reader from mixing two messages' fields; no lock,
    so a worker killed mid-write can never block the service.
    """

    def __init__(self, mp: Any) -> None:
        self.cells = mp.RawArray("d", 4)  # version, begun, stage, since

    def _write(self, begun: float, stage: float, since: float) -> None:
        cells = self.cells
        cells[0] += 1
        cells[1], cells[2], cells[3] = begun, stage, since
        cells[0] += 1

    def begin(self, begun: int) -> None:
        self._write(begun, 0, time.monotonic())

    def stage(self, index: int) -> None:
        cells = self.cells
        self._write(cells[1], index, cells[3])

    def finish(self) -> None:
        cells = self.cells
        self._write(cells[1], -1, cells[3])

    def read(self) -> tuple[int, int, float]:
        """(messages begun, stage index or -1, since); a consistent snapshot if one is had
        within a few tries (a write takes well under a microsecond), else the last read."""
        cells = self.cells
        snapshot = (0, -1, 0.0)
        for _ in range(100):
            version = cells[0]
            snapshot = (int(cells[1]), int(cells[2]), cells[3])
            if version % 2 == 0 and cells[0] == version:
                break
        return snapshot


def _serve(conn: Connection, policy: IntakePolicy, warm_up: bool, board: Board) -> None:
    """The worker's loop: load the model once, then run the stages of each message sent."""
    from bot.pipeline import cpu_stages  # the table lives with the pipeline

    stages = cpu_stages()
    for text in WARM_UP_MAILS if warm_up else ():
        warm = Work(inbound_id=0, raw=text.encode(), channel="warm-up", envelope_from="",
                    received_at=datetime.now(UTC))
        run_stages(stages, warm, intake.Context(policy=policy, now=datetime.now(UTC)))
    names = tuple(name for name, _run in stages)
    index = {name: i for i, name in enumerate(names)}
    conn.send(("ready", names))
    begun = 0
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the service has gone
            return
        work, now = job
        begun += 1
        board.begin(begun)
        outcome = run_stages(stages, work, intake.Context(policy=policy, now=now),
                             lambda name: board.stage(index[name]))
        board.finish()  # before the send, which may wait for the service to read the pipe
        conn.send(outcome)


class WorkerProcess:
    """One warm worker process and the messages sent to it, in order."""

    def __init__(self, policy: IntakePolicy, max_seconds: float, *, warm_up: bool = True,
                 start_method: str = "forkserver") -> None:
        self._policy, self._max, self._warm_up = policy, max_seconds, warm_up
        self._mp: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._mp.set_forkserver_preload(PRELOAD)
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        #: Sent and not yet answered, oldest first (resent to a new worker after a kill).
        self._pending: deque[tuple[Work, datetime]] = deque()
        #: The current worker's board, its stage names, and how many outcomes it has sent
        #: (so the oldest pending message is the ``answered + 1``-th it was sent).
        self._board: Board | None = None
        self._names: tuple[str, ...] = ()
        self._answered = 0
        #: When the oldest pending message became the oldest (monotonic), before any stage.
        self._head_since = time.monotonic()
        self.replaced = 0

    def start(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Start a worker and wait until its model is loaded."""
        parent, child = self._mp.Pipe()
        board = Board(self._mp)
        process = self._mp.Process(target=_serve,
                                   args=(child, self._policy, self._warm_up, board),
                                   name="dsrbot-cpu-worker", daemon=True)
        process.start()
        child.close()
        self._process, self._conn, self._board = process, parent, board
        deadline = time.monotonic() + WARM_UP_SECONDS
        while not parent.poll(POLL_SECONDS):
            if should_stop():
                self.close()
                raise Interrupted
            if time.monotonic() > deadline or not process.is_alive():
                self.close()
                raise RuntimeError("the CPU worker did not start")
        try:
            self._names = parent.recv()[1]  # ("ready", stage names)
        except EOFError:
            self.close()
            raise RuntimeError("the CPU worker exited while starting") from None
        self._answered = 0
        for work, now in self._pending:  # what the last worker had not finished
            parent.send((work, now))
        self._head_since = time.monotonic()

    def submit(self, work: Work, now: datetime) -> None:
        if self._conn is None:
            self.start()
        assert self._conn is not None
        if not self._pending:
            self._head_since = time.monotonic()
        self._pending.append((work, now))
        self._conn.send((work, now))

    def next_outcome(self, should_stop: Callable[[], bool]) -> Outcome:
        """The oldest pending message's outcome; kills the worker if it overran."""
        while True:
            if self._conn is None:
                self.start(should_stop)
            assert self._conn is not None
            if should_stop():
                raise Interrupted
            wait = POLL_SECONDS
            if self._pending:
                wait = min(wait, max(self._deadline() - time.monotonic(), 0.0))
            try:
                ready = self._conn.poll(wait)
                outcome: Outcome | None = self._conn.recv() if ready else None
            except (EOFError, OSError):  # the worker died (killed from outside, out of memory)
                return self._lost("worker exited")
            if outcome is None:
                if self._pending and time.monotonic() > self._deadline():
                    return self._overran()
                continue
            self._pending.popleft()
            self._answered += 1
            self._head_since = time.monotonic()
            return outcome

    def _head_stage(self) -> tuple[str, float] | None:
        """The stage the oldest pending message is in and since when its first stage began;
        None if the worker has not begun it, or has finished it (its outcome is on the way)."""
        if self._board is None:
            return None
        begun, stage, since = self._board.read()
        if begun != self._answered + 1 or not 0 <= stage < len(self._names):
            return None
        return self._names[stage], since

    def _deadline(self) -> float:
        """When the oldest pending message overruns: the budget from its first stage, or, if
        the worker has not begun it, the budget and a grace from when it became the oldest."""
        head = self._head_stage()
        if head is not None:
            return head[1] + self._max
        if self._board is not None and self._board.read()[0] > self._answered:
            return math.inf  # finished: the outcome is in the pipe or being written to it
        return self._head_since + self._max + START_GRACE_SECONDS

    def _overran(self) -> Outcome:
        head = self._head_stage()
        work, _now = self._pending.popleft()
        stage = head[0] if head else "parse"
        log.warning("message overran its budget in %s inbound_id=%s; worker replaced",
                    stage, work.inbound_id)
        self._kill()
        return Overran(work, stage)

    def _lost(self, reason: str) -> Outcome:
        head = self._head_stage()
        work, _now = self._pending.popleft()
        stage = head[0] if head else "parse"
        self._kill()
        return Failed(work, stage, reason)

    def _kill(self) -> None:
        self._board = None
        self.replaced += 1
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def close(self) -> None:
        """Stop the worker; what it had in hand stays ``received`` in the database."""
        self._pending.clear()
        self._board = None
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None


def drain(runner: CpuRunner, works: Iterable[Work], now: datetime,
          should_stop: Callable[[], bool]) -> list[Outcome]:
    """Submit ``works`` and wait for all their outcomes (in order)."""
    items = list(works)
    for work in items:
        runner.submit(work, now)
    return [runner.next_outcome(should_stop) for _ in items]
