"""The inbound pipeline: one declarative table of stages, in the spirit of Mailman's chains.

Every stored inbound message walks the table in order. A stage either lets the message go on
or stops it with a final inbound state; each appends human-readable reasons that staff see.

``CpuStep`` stages (typed :class:`CpuStage`) are pure CPU work (parsing, triage,
classification) and run before any transaction, so SQLite's write lock is never held while the
classifier thinks. All the ``DbStep`` stages (typed :class:`DbStage`) then run in ONE
transaction: the case, its receipt in the outbox, its audit entries and the inbound row's new
state commit together or not at all (transactional outbox).
A crash anywhere leaves the row ``received`` and it is processed again (at-least-once; the
case and receipt are only ever committed once, so in effect exactly-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from sqlmodel import Session

from bot.policy_from_settings import identity_policy, intake_policy, org_info, rights_policy
from bot.settings import Settings
from handlers import intake
from handlers.confirmation_letters import mail_due_confirmations
from handlers.execute import finish_decided
from handlers.intake import Stop, Work
from storage import inbox
from storage.db import Database
from storage.models import InboundMessage, InboundState

log = logging.getLogger(__name__)


class CpuStage(Protocol):
    """A stage of pure CPU work, run before any transaction (parse, triage, classify)."""

    def __call__(self, work: Work, ctx: intake.Context, /) -> Stop | None: ...


class DbStage(Protocol):
    """A stage in the message's one transaction: it may read and write through ``session``."""

    def __call__(self, work: Work, ctx: intake.Context, session: Session, /) -> Stop | None: ...


@dataclass(frozen=True)
class CpuStep:
    name: str
    run: CpuStage
    db: ClassVar[bool] = False


@dataclass(frozen=True)
class DbStep:
    name: str
    run: DbStage
    db: ClassVar[bool] = True


Stage = CpuStep | DbStep

#: The whole inbound flow, in order. Change the product's behaviour here, not in the runner.
#: Every CPU step runs before the transaction opens, so they come first.
STAGES: tuple[Stage, ...] = (
    CpuStep("parse", intake.parse_stage),
    CpuStep("triage", intake.triage_stage),
    CpuStep("classify", intake.classify_stage),
    DbStep("throttle", intake.throttle_stage),
    DbStep("identify", intake.identify_stage),
    DbStep("followup", intake.followup_stage),
    DbStep("request", intake.request_stage),
    DbStep("case", intake.case_stage),
    DbStep("decide", intake.decide_stage),
)


def _finish(session: Session, row: InboundMessage, work: Work, stop: Stop | None) -> None:
    state = stop.state if stop else InboundState.PROCESSED
    inbox.mark(session, row, state, work.reasons, case_id=work.case_id)


def process_one(db: Database, settings: Settings, inbound_id: int) -> str:
    """Run one stored message through every stage; return its final state."""
    with db.read_session() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is None or row.state != InboundState.RECEIVED:
            return row.state if row else "missing"
        work = Work.from_row(row)
    ctx = intake.Context(policy=intake_policy(settings), now=datetime.now(UTC))
    stop: Stop | None = None
    for cpu in (s for s in STAGES if isinstance(s, CpuStep)):
        stop = cpu.run(work, ctx)
        if stop:
            break
    with db.session() as session:
        # Row lock (PostgreSQL) / write lock (SQLite): two instances never both act on it.
        row = session.get(InboundMessage, inbound_id, with_for_update=True)
        if row is None or row.state != InboundState.RECEIVED:  # another worker finished it
            return row.state if row else "missing"
        if stop is None:
            for step in (s for s in STAGES if isinstance(s, DbStep)):
                stop = step.run(work, ctx, session)
                if stop:
                    break
        _finish(session, row, work, stop)
        return row.state


def quarantine_after_error(db: Database, inbound_id: int, stage_error: str) -> None:
    with db.session() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is not None and row.state == InboundState.RECEIVED:
            inbox.mark(session, row, InboundState.QUARANTINED,
                       [f"internal error while processing: {stage_error}"])


def process_pending(
    db: Database,
    settings: Settings,
    limit: int = 1000,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, int]:
    """Process every stored message still in state ``received``; return counts by final state.

    ``should_stop`` is checked between messages, so a shutdown finishes the message in hand.
    """
    counts: dict[str, int] = {}
    while not should_stop():
        with db.read_session() as session:
            ids = inbox.pending_ids(session, limit)
        if not ids:
            return counts
        for inbound_id in ids:
            if should_stop():
                return counts
            try:
                state = process_one(db, settings, inbound_id)
            except Exception as exc:  # one bad message never stops the others
                log.exception("pipeline failed inbound_id=%s", inbound_id)
                quarantine_after_error(db, inbound_id, exc.__class__.__name__)
                state = InboundState.QUARANTINED
            counts[state] = counts.get(state, 0) + 1
        if len(ids) < limit:
            return counts
    return counts


def mail_held_confirmations(db: Database, settings: Settings) -> int:
    """Confirmation letters held back by the one-per-hour limit, once their hour has passed."""
    with db.session() as session:
        return mail_due_confirmations(session, org_info(settings), identity_policy(settings),
                                      datetime.now(UTC))


def run_once(
    db: Database, settings: Settings, should_stop: Callable[[], bool] = lambda: False
) -> dict[str, int]:
    """Process what is stored, then finish what was decided (auto-approved or by staff)."""
    counts = process_pending(db, settings, should_stop=should_stop)
    letters = mail_held_confirmations(db, settings)
    if letters:
        counts["confirmation_letters"] = letters
    finished = finish_decided(db, org_info(settings), rights=rights_policy(settings))
    counts.update({f"cases_{k}": v for k, v in finished.items() if v})
    return counts


class PipelineComponent:
    """Runs the pipeline in a worker thread whenever mail is stored, and on a timer as a net."""

    name = "pipeline"

    def __init__(self, db: Database, settings: Settings, poll_seconds: float = 5.0) -> None:
        self._db, self._settings, self._poll = db, settings, poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.after_batch: list[Callable[[], None]] = []

    def notify(self) -> None:
        """Thread-safe wake-up: receivers call this after committing a message."""
        if self._loop is not None:  # before start, the first pass picks everything up
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="pipeline")

    async def _run(self) -> None:
        while not self._stopping:
            try:
                counts = await asyncio.to_thread(
                    run_once, self._db, self._settings, lambda: self._stopping
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
        """Finish the message in hand (the worker thread completes its transaction), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task:
            await self._task
