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

How a batch's transaction is handled (savepoints, quarantine, the one-by-one fallback) is
:mod:`bot.pipeline_batch`; the service component that runs this is
:mod:`bot.pipeline_component`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from sqlalchemy import select
from sqlmodel import Session, col

from bot.clock import SystemClock
from bot.cpu_worker import CpuRunner, CpuStages, Done, InProcessRunner, Interrupted, run_stages
from bot.pipeline_batch import settle
from bot.policy_from_settings import identity_policy, intake_policy, org_info, rights_policy
from bot.settings import Settings
from handlers import bounces, canary, deadlines, forwarding, intake
from handlers.clock import Clock
from handlers.confirmation_letters import mail_held_letter
from handlers.execute import finish_decided
from handlers.intake import Stop, Work
from handlers.letters.renderer import LANGUAGES, render_letter
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


def _load(db: Database, ids: list[int]) -> list[Work]:
    """What the CPU stages need of each row still ``received``: its columns, not ORM objects
    (the batch's transaction reads the rows again, under lock)."""
    m = InboundMessage
    with db.read_session() as session:
        rows = session.execute(
            select(col(m.id), col(m.raw), col(m.channel), col(m.envelope_from),
                   col(m.received_at), col(m.reasons))
            .where(col(m.id).in_(ids)).where(col(m.state) == InboundState.RECEIVED)
            .order_by(col(m.id))).all()
    return [Work(inbound_id=row.id, raw=row.raw, channel=row.channel,
                 envelope_from=row.envelope_from, received_at=row.received_at,
                 reasons=list(row.reasons)) for row in rows]


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
                for state in settle(db, ctx, outcomes, _db_stages):
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


def warm_up(settings: Settings) -> None:
    """Load what the first request's DB stages would load (the holiday calendar for due
    dates, the letter templates, catalogues and locale data of every language), so the first
    batch after start-up is not charged for it. Touches no database."""
    org, now = org_info(settings), datetime.now(UTC)
    due = deadlines.due_date(now, tz=org.tz)
    for language in LANGUAGES:
        render_letter("receipt", language, {
            "org": org.letter_context(), "case_id": "DSR-0000-0000", "due_date": due,
            "received_at": now.astimezone(org.timezone).date(), "types": ["access"]},
            tz=org.timezone)


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
