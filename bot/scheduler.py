"""The clock: APScheduler 3 in the service loop, running the periodic jobs.

Deadlines are data on the cases, not scheduler jobs (ARCHITECTURE.md). Each job asks the
database what is due as of "now" and hands every item to :mod:`handlers.periodic` in a short
transaction of its own, which claims the item's key first. Therefore:

* a restart runs every job once at start, so what fell due while the service was down is done
  then, once (its key was never taken);
* two instances on one PostgreSQL database do each item once (the second finds the key taken);
* ``dsrbot tick --now ...`` runs the same :class:`PeriodicJobs` once, for operators and tests.

One failing item is logged (case or customer id only) and the job goes on with the next; the
item is tried again on the next run because its claim rolled back with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import Session

from bot.policy_from_settings import org_info, reminder_policy
from bot.settings import SchedulerSettings, Settings
from handlers import cases as engine
from handlers import deadlines, periodic
from handlers import reminders as rules
from storage import audit
from storage import reminders as done
from storage.db import Database

log = logging.getLogger(__name__)

JOB_NAMES = ("challenges", "retention", "cases", "digest")
CASE_KINDS = (rules.DEADLINE, rules.OVERDUE, rules.EXTENSION_WARNING)


@dataclass
class TickReport:
    """What one run did, as counts (printed by ``dsrbot tick``, logged by the service)."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] = self.counts.get(key, 0) + n

    def merge(self, other: TickReport) -> None:
        for key, n in other.counts.items():
            self.add(key, n)
        self.errors += other.errors

    def summary(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.counts.items())]
        if self.errors:
            parts.append(f"errors={self.errors}")
        return " ".join(parts) or "nothing due"


class PeriodicJobs:
    """The jobs, synchronous (the service runs them in a worker thread)."""

    def __init__(self, settings: Settings, db: Database, *, instance: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.policy = reminder_policy(settings)
        self.org = org_info(settings)
        self.instance = instance or done.instance_name()
        self.tz = settings.organisation.timezone

    def run(self, name: str, now: datetime) -> TickReport:
        job: Callable[[datetime], TickReport] = getattr(self, f"run_{name}")
        return job(now)

    def run_all(self, now: datetime) -> TickReport:
        """Every job once, in an order where each sees the others' results (a case closed by
        an expired code gets no deadline reminder; the digest lists today's anonymisations)."""
        report = TickReport()
        for name in JOB_NAMES:
            report.merge(self.run(name, now))
        return report

    def _each(
        self, report: TickReport, what: str, item: object, fn: Callable[[Session], Any]
    ) -> Any:
        """Run ``fn`` for one item in a transaction of its own; log and count a failure."""
        try:
            with self.db.session() as session:
                return fn(session)
        except Exception:
            report.errors += 1
            log.exception("scheduler: %s failed for %s; retried next run", what, item)
            return None

    # --- jobs ------------------------------------------------------------------------------

    def run_cases(self, now: datetime) -> TickReport:
        """Deadline reminders, overdue escalations and extension warnings."""
        report = TickReport()
        today = deadlines.local_date(now, self.tz)
        with self.db.read_session() as session:
            owed = [r for case in engine.open_cases(session)
                    for r in rules.case_reminders(case, today, self.policy)]
            taken = done.claimed(session, CASE_KINDS, min((r.key_date for r in owed),
                                                          default=today)) if owed else set()
        for r in owed:
            if (r.kind, r.case_id, r.key_date) in taken:
                continue
            sent = self._each(report, r.kind, r.case_id, partial(
                periodic.send_case_reminder, case_id=r.case_id, kind=r.kind,
                key_date=r.key_date, now=now, policy=self.policy, instance=self.instance))
            report.add(r.kind, 1 if sent else 0)
        return report

    def run_challenges(self, now: datetime) -> TickReport:
        """Identity codes: one reminder before expiry, the close after it."""
        report = TickReport()
        with self.db.read_session() as session:
            due = [(case.id, challenge.id) for case, challenge in done.open_challenges(session)
                   if challenge.id is not None
                   and rules.challenge_step(case, challenge, now, self.policy) is not None]
        for case_id, challenge_id in due:
            outcome = self._each(report, "challenge", case_id, partial(
                periodic.handle_challenge, case_id=case_id, challenge_id=challenge_id, now=now,
                policy=self.policy, org=self.org, instance=self.instance))
            if outcome is not None and outcome.acted:
                report.add(rules.CHALLENGE_REMINDER if outcome.step == "remind"
                           else rules.CHALLENGE_EXPIRED)
        return report

    def run_retention(self, now: datetime) -> TickReport:
        """Anonymise customers past retention, unless a hold applies: one sweep a day (the
        first run after midnight, local time); a customer that failed is tried tomorrow."""
        report = TickReport()
        if not self.settings.scheduler.retention_enabled:
            return report
        years = self.settings.retention.years_after_relationship_end
        today = deadlines.local_date(now, self.tz)
        # Once a day: customers kept by a hold are looked at again tomorrow, not every run.
        if not self._each(report, "retention sweep", today, partial(
                done.claim, kind=rules.RETENTION_SWEEP, subject=done.STAFF, due_on=today,
                now=now, instance=self.instance)):
            return report
        cutoff = rules.retention_cutoff(today, years)
        after = 0
        batch = self.settings.scheduler.retention_batch
        while True:
            with self.db.read_session() as session:
                ids = done.retention_candidates(session, cutoff, after_id=after, limit=batch)
            for customer_id in ids:
                result = self._each(report, "retention", f"customer {customer_id}", partial(
                    periodic.enforce_retention, customer_id=customer_id, now=now, years=years,
                    org=self.org, tz=self.tz, instance=self.instance))
                if result == "anonymised":
                    report.add("retention_anonymised")
                elif result == "held":
                    report.add("retention_held")
            if len(ids) < batch:
                return report
            after = ids[-1]

    def run_digest(self, now: datetime) -> TickReport:
        """The daily digest, once a (working) day after ``scheduler.digest_time``."""
        report = TickReport()
        local = now.astimezone(ZoneInfo(self.tz))
        settings: SchedulerSettings = self.settings.scheduler
        hour, minute = (int(p) for p in settings.digest_time.split(":"))
        if local.time() < time(hour, minute):
            return report
        day = local.date()
        digest_day = not (settings.digest_working_days_only
                          and not deadlines.is_working_day(day))
        self._audit_checkpoint(report, now, day, announce=not digest_day)
        if not digest_day:
            return report
        held = self._held_count(day)
        digest = self._each(report, "digest", day, partial(
            periodic.send_digest, now=now, day=day, held=held, instance=self.instance))
        report.add(rules.DIGEST, 1 if digest is not None else 0)
        return report

    def _audit_checkpoint(self, report: TickReport, now: datetime, day: date, *,
                          announce: bool) -> None:
        """Every day (the digest carries it on digest days): record, mail, append to the log."""
        audit_settings = self.settings.audit
        checkpoint = self._each(report, "audit checkpoint", day, partial(
            periodic.record_audit_checkpoint, now=now, day=day, org=self.org,
            mail_to=audit_settings.checkpoint_to, announce=announce, instance=self.instance))
        if checkpoint is None:
            return
        report.add(periodic.AUDIT_CHECKPOINT)
        try:
            append_checkpoint_log(audit_settings.checkpoint_log, day, checkpoint)
        except OSError:
            report.errors += 1
            log.exception("scheduler: could not append the audit checkpoint to %s",
                          audit_settings.checkpoint_log)

    def _held_count(self, day: date) -> int:
        """Customers past retention and still not anonymised (held, or failing)."""
        if not self.settings.scheduler.retention_enabled:
            return 0
        years = self.settings.retention.years_after_relationship_end
        with self.db.read_session() as session:
            return done.retention_pending_count(session, rules.add_years(day, -years))


def append_checkpoint_log(path: Path, day: date, checkpoint: audit.Checkpoint) -> None:
    """``DATE COUNT HASH``, one line a day: ``dsrbot audit verify --checkpoints FILE`` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(f"{day.isoformat()} {checkpoint}\n")


class Scheduler:
    """The service component: runs the jobs at start (catching up) and then periodically."""

    name = "scheduler"

    def __init__(
        self,
        jobs: PeriodicJobs,
        settings: SchedulerSettings,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.jobs = jobs
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()
        #: One run per job at a time, whatever APScheduler's timing does.
        self._locks = {name: asyncio.Lock() for name in JOB_NAMES}
        self.runs: dict[str, int] = dict.fromkeys(JOB_NAMES, 0)

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> Scheduler:
        return cls(PeriodicJobs(settings, db), settings.scheduler)

    async def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC, event_loop=asyncio.get_running_loop())
        first = datetime.now(UTC)  # every job runs at once: catch up on what fell due
        intervals = {"challenges": self.settings.tick_seconds, "cases": self.settings.tick_seconds,
                     "retention": self.settings.daily_check_seconds,
                     "digest": self.settings.daily_check_seconds}
        for name in JOB_NAMES:
            self._scheduler.add_job(
                self._run, "interval", seconds=intervals[name], args=[name], id=name,
                name=f"dsrbot {name}", next_run_time=first, max_instances=1, coalesce=True,
                misfire_grace_time=None)
        self._scheduler.start()
        log.info("scheduler started: jobs %s every %.0fs/%.0fs", ", ".join(JOB_NAMES),
                 self.settings.tick_seconds, self.settings.daily_check_seconds)

    async def run_now(self, name: str) -> TickReport:
        """Run one job now (also what APScheduler calls)."""
        async with self._locks[name]:
            report = await asyncio.to_thread(self.jobs.run, name, self.clock())
            self.runs[name] += 1
        if report.counts or report.errors:
            log.info("scheduler %s: %s", name, report.summary())
        return report

    async def _run(self, name: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self.run_now(name)
        except Exception:  # the database may be away; the next run tries again
            log.exception("scheduler job %s failed", name)
        finally:
            if task is not None:
                self._running.discard(task)

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._running:
            # A job in a worker thread finishes its current transaction; wait for it.
            await asyncio.gather(*list(self._running), return_exceptions=True)
        log.info("scheduler stopped")
