"""The inbound pipeline: one declarative table of stages, in the spirit of Mailman's chains.

Every stored inbound message walks the table in order. A stage either lets the message go on
or stops it with a final inbound state; each appends human-readable reasons that staff see.

``CpuStep`` stages (typed :class:`CpuStage`) are pure CPU work (parsing, triage,
classification) and run before any transaction, so SQLite's write lock is never held while the
classifier thinks; in the service they run in a worker process with a deadline
(:mod:`bot.cpu_worker`). All the ``DbStep`` stages (typed :class:`DbStage`) then run in the
batch's transaction, each message in its own savepoint: the case, its receipt in the outbox,
its audit entries and the inbound row's new state commit together or not at all
(transactional outbox).
A crash anywhere leaves the row ``received`` and it is processed again (at-least-once; the
case and receipt are only ever committed once, so in effect exactly-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Protocol

from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from bot.clock import SystemClock
from bot.cpu_worker import (
    CpuRunner,
    CpuStages,
    Done,
    Failed,
    InProcessRunner,
    Interrupted,
    Outcome,
    Overran,
    WorkerProcess,
    run_stages,
)
from bot.policy_from_settings import identity_policy, intake_policy, org_info, rights_policy
from bot.settings import Settings
from handlers import bounces, canary, forwarding, intake
from handlers.clock import Clock
from handlers.confirmation_letters import mail_held_letter
from handlers.execute import finish_decided
from handlers.intake import Stop, Work
from storage import challenges as challenge_store
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


class OutcomeStage(Protocol):
    """Runs for EVERY message once the stages decided, in its transaction, whatever stopped it:
    what the outcome itself calls for (a matched bounce, a canary probe, a forward)."""

    def __call__(self, work: Work, ctx: intake.Context, session: Session, stop: Stop | None, /
                 ) -> Stop | None: ...


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


@dataclass(frozen=True)
class OutcomeStep:
    name: str
    run: OutcomeStage


Stage = CpuStep | DbStep

#: The whole inbound flow, in order. Change the product's behaviour here, not in the runner.
#: Every CPU step runs before the transaction opens, so they come first.
STAGES: tuple[Stage, ...] = (
    CpuStep("parse", intake.parse_stage),
    CpuStep("canary", canary.probe_stage),
    CpuStep("triage", intake.triage_stage),
    CpuStep("classify", intake.classify_stage),
    DbStep("throttle", intake.throttle_stage),
    DbStep("identify", intake.identify_stage),
    DbStep("followup", intake.followup_stage),
    DbStep("request", intake.request_stage),
    DbStep("case", intake.case_stage),
    DbStep("decide", intake.decide_stage),
)

#: After the stages, for every message (also one a stage stopped), in its transaction.
OUTCOMES: tuple[OutcomeStep, ...] = (
    OutcomeStep("canary", canary.probe_outcome),
    OutcomeStep("bounce", bounces.bounce_outcome),
    OutcomeStep("forward", forwarding.forward_outcome),
)


def cpu_stages() -> CpuStages:
    """The CPU steps of the table, in order (what the worker process runs)."""
    return tuple((s.name, s.run) for s in STAGES if isinstance(s, CpuStep))


def _finish(session: Session, row: InboundMessage, work: Work, stop: Stop | None) -> None:
    state = stop.state if stop else InboundState.PROCESSED
    inbox.mark(session, row, state, work.reasons, case_id=work.case_id, bounce_of=work.bounce_of)


def _db_stages(session: Session, work: Work, ctx: intake.Context, stop: Stop | None,
               locked: dict[int, InboundMessage] | None = None) -> str:
    """The message's DB stages and its new state, in ``session``; its state afterwards.

    ``locked``: the batch's rows, already read under lock by :func:`_lock_batch`."""
    # Row lock (PostgreSQL) / write lock (SQLite): two instances never both act on it.
    row = (locked.get(work.inbound_id) if locked is not None
           else session.get(InboundMessage, work.inbound_id, with_for_update=True))
    if row is None or row.state != InboundState.RECEIVED:  # another worker finished it
        return row.state if row else "missing"
    if stop is None:
        for step in (s for s in STAGES if isinstance(s, DbStep)):
            stop = step.run(work, ctx, session)
            if stop:
                break
    for outcome in OUTCOMES:
        stop = outcome.run(work, ctx, session, stop)
    _finish(session, row, work, stop)
    return row.state


def process_one(db: Database, settings: Settings, inbound_id: int) -> str:
    """Run one stored message through every stage (in this thread); return its final state."""
    with db.read_session() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is None or row.state != InboundState.RECEIVED:
            return row.state if row else "missing"
        work = Work.from_row(row)
    ctx = intake.Context(policy=intake_policy(settings), now=datetime.now(UTC))
    outcome = run_stages(cpu_stages(), work, ctx)
    if not isinstance(outcome, Done):
        raise RuntimeError(f"{outcome.stage}: {outcome.__class__.__name__}")
    with db.session() as session:
        return _db_stages(session, outcome.work, ctx, outcome.stop)


def quarantine_after_error(db: Database, inbound_id: int, stage_error: str) -> None:
    quarantine(db, inbound_id, f"internal error while processing: {stage_error}")


def quarantine(db: Database, inbound_id: int, reason: str) -> None:
    with db.session() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is not None and row.state == InboundState.RECEIVED:
            inbox.mark(session, row, InboundState.QUARANTINED, [*row.reasons, reason])


def _lock_batch(session: Session, ctx: intake.Context, done: list[Done]
                ) -> dict[int, InboundMessage]:
    """What every message of the batch needs from the database, read in two queries instead
    of two per message: its inbound row under lock (the raw bytes left unread: the stages
    have them), and when its sender's recent mail arrived (the rate limit's count)."""
    ids = [item.work.inbound_id for item in done]
    rows = session.exec(select(InboundMessage).where(col(InboundMessage.id).in_(ids))
                        .options(defer(InboundMessage.raw))  # type: ignore[arg-type]
                        .with_for_update()).all()
    senders = [item.work.message.from_address for item in done
               if item.stop is None and item.work.parsed is not None]
    if senders:
        window = timedelta(minutes=ctx.policy.rate_limit_window_minutes)
        since = min(item.work.received_at for item in done) - window
        inbox.remember_recent(session, senders, since)
    return {row.id: row for row in rows if row.id is not None}


def _commit_batch(db: Database, ctx: intake.Context, done: list[Done]) -> list[str]:
    """Every message's DB stages in ONE transaction, each in its own savepoint: a stage that
    raises rolls back only its message, which is quarantined in the same transaction. The
    commit (one fsync for the batch) is what made one transaction per message slow."""
    states: list[str] = []
    with db.session() as session:
        locked = _lock_batch(session, ctx, done)
        for item in done:
            # A copy per attempt: a rolled-back attempt leaves no reasons behind.
            work = replace(item.work, reasons=list(item.work.reasons))
            try:
                with session.begin_nested():
                    states.append(_db_stages(session, work, ctx, item.stop, locked))
            except Exception as exc:
                log.exception("pipeline failed inbound_id=%s", work.inbound_id)
                row = session.get(InboundMessage, work.inbound_id)
                if row is not None and row.state == InboundState.RECEIVED:
                    inbox.mark(session, row, InboundState.QUARANTINED, [
                        *item.work.reasons,
                        f"internal error while processing: {exc.__class__.__name__}"])
                states.append(InboundState.QUARANTINED)
    return states


def _commit_one_by_one(db: Database, ctx: intake.Context, done: list[Done]) -> list[str]:
    """The batch's fallback when its transaction failed as a whole: each message alone."""
    states: list[str] = []
    for item in done:
        work = replace(item.work, reasons=list(item.work.reasons))
        try:
            with db.session() as session:
                states.append(_db_stages(session, work, ctx, item.stop))
        except Exception as exc:
            log.exception("pipeline failed inbound_id=%s", work.inbound_id)
            quarantine_after_error(db, work.inbound_id, exc.__class__.__name__)
            states.append(InboundState.QUARANTINED)
    return states


def _settle(db: Database, ctx: intake.Context, outcomes: list[Outcome]) -> list[str]:
    """Commit what the CPU stages decided: overruns and failures quarantined, the rest in one
    transaction (or one by one if that transaction fails)."""
    states: list[str] = []
    done = [o for o in outcomes if isinstance(o, Done)]
    for outcome in outcomes:
        if isinstance(outcome, Overran):
            quarantine(db, outcome.work.inbound_id, f"took too long in {outcome.stage}")
            states.append(InboundState.QUARANTINED)
        elif isinstance(outcome, Failed):
            log.warning("stage %s failed inbound_id=%s: %s", outcome.stage,
                        outcome.work.inbound_id, outcome.error)
            quarantine_after_error(db, outcome.work.inbound_id, outcome.error)
            states.append(InboundState.QUARANTINED)
    if done:
        try:
            states += _commit_batch(db, ctx, done)
        except Exception:
            log.exception("batch transaction failed; committing its %d messages one by one",
                          len(done))
            states += _commit_one_by_one(db, ctx, done)
    return states


def _load(db: Database, ids: list[int]) -> list[Work]:
    with db.read_session() as session:
        rows = session.exec(select(InboundMessage).where(col(InboundMessage.id).in_(ids))
                            .where(col(InboundMessage.state) == InboundState.RECEIVED)
                            .order_by(col(InboundMessage.id))).all()
        return [Work.from_row(row) for row in rows]


def process_pending(
    db: Database,
    settings: Settings,
    limit: int = 1000,
    should_stop: Callable[[], bool] = lambda: False,
    runner: CpuRunner | None = None,
) -> dict[str, int]:
    """Process every stored message still in state ``received``; return counts by final state.

    The CPU stages run in ``runner`` (the service passes its worker process; by default they
    run in this thread). Batches of ``pipeline.batch_size`` commit together, and the next
    batch is sent to the runner before this one commits, so a worker process classifies while
    the database writes. ``should_stop`` is checked while waiting: on shutdown the messages in
    hand stay ``received`` and are processed by the next run (at-least-once).
    """
    policy = intake_policy(settings)
    runner = runner or InProcessRunner(cpu_stages(), policy)
    size = settings.pipeline.batch_size
    counts: dict[str, int] = {}
    try:
        while not should_stop():
            with db.read_session() as session:
                ids = inbox.pending_ids(session, limit)
            if not ids:
                return counts
            ctx = intake.Context(policy=policy, now=datetime.now(UTC))
            batches = [ids[i:i + size] for i in range(0, len(ids), size)]
            sent = _load(db, batches[0])
            for work in sent:
                runner.submit(work, ctx.now)
            for index in range(len(batches)):
                current = sent
                outcomes = [runner.next_outcome(should_stop) for _ in current]
                if index + 1 < len(batches) and not should_stop():
                    sent = _load(db, batches[index + 1])
                    for work in sent:  # the worker starts on these while this batch commits
                        runner.submit(work, ctx.now)
                for state in _settle(db, ctx, outcomes):
                    counts[state] = counts.get(state, 0) + 1
                if should_stop():
                    return counts
            if len(ids) < limit:
                return counts
    except Interrupted:
        return counts
    finally:
        if isinstance(runner, InProcessRunner):
            runner.close()
    return counts


def mail_held_confirmations(db: Database, settings: Settings, clock: Clock) -> int:
    """Confirmation letters held back by the one-per-hour limit, once their hour has passed.

    Each customer's letter in a transaction of its own that claims the held challenges first,
    so two instances on one PostgreSQL database send it once (the second skips the claimed or
    superseded rows); one customer's failure is logged (customer id only) and tried next pass.
    """
    now = clock.now()
    org, identity = org_info(settings), identity_policy(settings)
    with db.read_session() as session:
        customer_ids = challenge_store.held_customer_ids(session, now)
    letters = 0
    for customer_id in customer_ids:
        try:
            with db.session() as session:
                letters += mail_held_letter(session, org, identity, customer_id, now)
        except Exception:
            log.exception("held confirmation letter failed for customer id %s; retried on the "
                          "next pass", customer_id)
    return letters


def run_once(
    db: Database, settings: Settings, should_stop: Callable[[], bool] = lambda: False,
    runner: CpuRunner | None = None,
) -> dict[str, int]:
    """Process what is stored, then finish what was decided (auto-approved or by staff)."""
    clock = SystemClock()
    counts = process_pending(db, settings, should_stop=should_stop, runner=runner)
    letters = mail_held_confirmations(db, settings, clock)
    if letters:
        counts["confirmation_letters"] = letters
    finished = finish_decided(db, org_info(settings), clock=clock, rights=rights_policy(settings))
    counts.update({f"cases_{k}": v for k, v in finished.items() if v})
    return counts


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
        await asyncio.to_thread(self._worker.start, lambda: self._stopping)
        self._task = asyncio.create_task(self._run(), name="pipeline")

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
