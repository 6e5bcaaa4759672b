"""The purge, run: batches in short transactions, one audit entry, then the files cleaned.

``dsrbot purge`` and the scheduler's daily ``purge`` job both run :class:`PurgeJob`, so what
an operator runs by hand is exactly what the clock runs. Each batch is its own transaction
(SQLite's writer lock is never held for long; a crash loses at most one batch, which the next
run does again). The counts per kind go to the output and to one audit entry; ``dry_run``
only counts and writes nothing. After a real purge the database files are cleaned
(:func:`storage.reclaim.reclaim_space`): SQLite checkpoints and truncates its write-ahead log,
PostgreSQL VACUUMs the tables that lost data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from handlers import retention
from handlers.policy import RecordRetention
from storage import audit, reclaim
from storage.db import Database

log = logging.getLogger(__name__)

#: Which tables each kind empties (VACUUMed on PostgreSQL when the kind purged something).
_TABLES = {"other_mail": reclaim.TABLES["mail"], "forwards": reclaim.TABLES["letters"],
           "report_attachments": reclaim.TABLES["attachments"],
           "erased_letters": reclaim.TABLES["cases"], "cases": reclaim.TABLES["cases"]}


@dataclass
class PurgeReport:
    """Counts per kind (never contents); ``dry_run``: what a purge would do."""

    now: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    vacuumed: tuple[str, ...] = ()
    checkpoint_busy: bool = False

    def summary(self) -> str:
        counts = " ".join(f"{k}={self.counts.get(k, 0)}" for k in retention.KINDS)
        parts = [k for k in self.counts if k not in retention.KINDS]
        counts += "".join(f" {k}={self.counts[k]}" for k in sorted(parts))
        return f"{'would purge' if self.dry_run else 'purged'}: {counts}"


class PurgeJob:
    """Runs the handlers' purge functions in batches against one database."""

    def __init__(self, db: Database, policy: RecordRetention, *, batch: int = 1000) -> None:
        self.db = db
        self.policy = policy
        self.batch = batch

    def run(self, now: datetime, *, dry_run: bool = False,
            actor: str = audit.BOT_ACTOR) -> PurgeReport:
        report = PurgeReport(now=now, dry_run=dry_run)
        if dry_run:
            with self.db.read_session() as session:
                report.counts = retention.due_counts(session, now, self.policy)
            return report
        counts = report.counts
        counts["other_mail"] = self._pages(lambda s, after: retention.purge_other_mail(
            s, now, self.policy, limit=self.batch, after_id=after))
        counts["forwards"] = self._pages(lambda s, after: retention.purge_forwards(
            s, now, self.policy, limit=self.batch, after_id=after))
        counts["report_attachments"] = self._pages(
            lambda s, after: retention.purge_report_attachments(
                s, now, self.policy, limit=self.batch, after_id=after))
        counts["erased_letters"] = self._repeat(lambda s: retention.forget_delivered_addresses(
            s, now, limit=self.batch))
        counts.update(self._delete_cases(now, actor))
        with self.db.session() as session:
            audit.record(session, actor, "retention.purge", details={
                "as_of": now.isoformat(), "counts": dict(counts),
                "policy": {"other_mail_days": self.policy.other_mail_days,
                           "report_attachments_days": self.policy.report_attachments_days,
                           "case_years": self.policy.case_years}})
        emptied = {t for kind, n in counts.items() if n and kind in _TABLES
                   for t in _TABLES[kind]}
        reclaimed = reclaim.reclaim_space(self.db.engine, emptied)
        report.vacuumed, report.checkpoint_busy = reclaimed.vacuumed, reclaimed.checkpoint_busy
        if reclaimed.checkpoint_busy:
            log.warning("purge: the WAL checkpoint was blocked by a reader; the next purge "
                        "truncates it")
        return report

    def _pages(self, step: Callable[[Session, int], retention.Batch]) -> int:
        """Run ``step`` in fresh transactions, each batch starting after the last one's id."""
        total, after = 0, 0
        while True:
            with self.db.session() as session:
                batch = step(session, after)
            total, after = total + batch.count, batch.last_id
            if batch.count < self.batch:
                return total

    def _repeat(self, step: Callable[[Session], int]) -> int:
        """Run ``step`` in fresh transactions until a batch comes back short."""
        total = 0
        while True:
            with self.db.session() as session:
                n = step(session)
            total += n
            if n < self.batch:
                return total

    def _delete_cases(self, now: datetime, actor: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        while True:
            with self.db.session() as session:
                looked, parts = retention.delete_expired_cases(
                    session, now, self.policy, limit=min(self.batch, 100), actor=actor)
            for key, n in parts.items():
                totals[key] = totals.get(key, 0) + n
            if looked < min(self.batch, 100):
                return totals
