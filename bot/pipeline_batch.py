"""How a batch of messages commits: its DB stages in one transaction, a savepoint each.

What runs for one message (the stage table's DB steps) is :func:`bot.pipeline._db_stages`,
passed in as ``run``; this module knows only transactions: the batch's rows read under lock
in one query, a savepoint per message so a stage that raises rolls back only its message
(quarantined in the same transaction), and the fallback of one transaction per message when
the batch's transaction fails as a whole. Overruns and failures of the CPU stages are
quarantined here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from bot.cpu_worker import Done, Failed, Outcome, Overran
from handlers import intake
from handlers.intake import Stop, Work
from storage import inbox
from storage.db import Database
from storage.models import InboundMessage, InboundState

log = logging.getLogger(__name__)

#: One message's DB stages in ``session`` (its rows locked by the batch, or ``None``: it
#: locks its own row); returns its state afterwards.
MessageRun = Callable[
    [Session, Work, intake.Context, Stop | None, dict[int, InboundMessage] | None], str]


def quarantine_after_error(db: Database, inbound_id: int, stage_error: str) -> None:
    quarantine(db, inbound_id, f"internal error while processing: {stage_error}")


def quarantine(db: Database, inbound_id: int, reason: str) -> None:
    with db.session() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is not None and row.state == InboundState.RECEIVED:
            inbox.mark(session, row, InboundState.QUARANTINED, [*row.reasons, reason])


def _lock_batch(session: Session, ctx: intake.Context, done: list[Done]
                ) -> dict[int, InboundMessage]:
    """What every message of the batch needs from the database, read in three queries instead
    of three per message: its inbound row under lock (the raw bytes left unread: the stages
    have them), when its sender's recent mail arrived (the rate limit's count), and the
    register's customers its identify stage looks up (``intake.remember_register``)."""
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
        intake.remember_register(session, [item.work for item in done if item.stop is None
                                           and item.work.parsed is not None])
    return {row.id: row for row in rows if row.id is not None}


class _MessageFailed(Exception):
    """A message's DB stages raised in a batch run without savepoints: run it again with them."""


def _run_batch(session: Session, ctx: intake.Context, done: list[Done], run: MessageRun,
               *, savepoints: bool) -> list[str]:
    locked = _lock_batch(session, ctx, done)
    states: list[str] = []
    for item in done:
        # A copy per attempt: a rolled-back attempt leaves no reasons behind.
        work = replace(item.work, reasons=list(item.work.reasons))
        if not savepoints:
            try:
                states.append(run(session, work, ctx, item.stop, locked))
            except Exception as exc:
                raise _MessageFailed from exc
            continue
        try:
            with session.begin_nested():
                states.append(run(session, work, ctx, item.stop, locked))
        except Exception as exc:
            log.exception("pipeline failed inbound_id=%s", work.inbound_id)
            row = session.get(InboundMessage, work.inbound_id)
            if row is not None and row.state == InboundState.RECEIVED:
                inbox.mark(session, row, InboundState.QUARANTINED, [
                    *item.work.reasons,
                    f"internal error while processing: {exc.__class__.__name__}"])
            states.append(InboundState.QUARANTINED)
    if not savepoints:
        try:
            session.flush()  # what a message wrote must fail here, not in the commit
        except Exception as exc:
            raise _MessageFailed from exc
    return states


def _commit_batch(db: Database, ctx: intake.Context, done: list[Done], run: MessageRun
                  ) -> list[str]:
    """Every message's DB stages in ONE transaction: the commit (one fsync for the batch) is
    what made one transaction per message slow.

    First without savepoints: a savepoint per message (SAVEPOINT, RELEASE and the flush
    before each) cost as much as the message's own rows. If any message raises, that attempt
    is rolled back whole and the batch runs again with a savepoint per message, where a stage
    that raises rolls back only its message, which is quarantined in the same transaction.
    The rows committed are the same either way; a failure costs the batch's work twice."""
    try:
        with db.session() as session:
            return _run_batch(session, ctx, done, run, savepoints=False)
    except _MessageFailed:
        log.info("a message of the batch failed; running the batch again with savepoints")
    with db.session() as session:
        return _run_batch(session, ctx, done, run, savepoints=True)


def _commit_one_by_one(db: Database, ctx: intake.Context, done: list[Done], run: MessageRun
                       ) -> list[str]:
    """The batch's fallback when its transaction failed as a whole: each message alone."""
    states: list[str] = []
    for item in done:
        work = replace(item.work, reasons=list(item.work.reasons))
        try:
            with db.session() as session:
                states.append(run(session, work, ctx, item.stop, None))
        except Exception as exc:
            log.exception("pipeline failed inbound_id=%s", work.inbound_id)
            quarantine_after_error(db, work.inbound_id, exc.__class__.__name__)
            states.append(InboundState.QUARANTINED)
    return states


def settle(db: Database, ctx: intake.Context, outcomes: list[Outcome], run: MessageRun
           ) -> list[str]:
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
            states += _commit_batch(db, ctx, done, run)
        except Exception:
            log.exception("batch transaction failed; committing its %d messages one by one",
                          len(done))
            states += _commit_one_by_one(db, ctx, done, run)
    return states
