"""The daily purge: what of dsrbot's own records is past its retention, and purging it.

The kinds, each with its own clock (``retention.*``, README "What dsrbot keeps"):

* ``other_mail``: mail that asked for no right keeps its raw bytes ``other_mail_days`` after
  it came, then only its dedupe key, dates and state;
* ``forwards``: a forward to customer service carries a mail whole (``original.eml``) and its
  subject: it is a copy of other mail and keeps them ``other_mail_days`` after it was written,
  delivered or not (one still not sent by then never goes);
* ``report_attachments``: report PDFs and exports leave the outbox
  ``report_attachments_days`` after delivery; the letter text stays with the case;
* ``erased_letters``: letters of an erased customer's case delivered after the erasure lose
  their address (see :mod:`handlers.retention.erasure_copies`);
* ``cases``: ``case_years`` after a case closed its whole file is deleted, leaving an
  anonymous statistic and the audit entries.

Plain functions over a session and a ``now``: the caller (``bot/purge_job.py``) owns the
transactions and the batches, so a test or a benchmark calls them directly. Each ``purge_*``
handles at most ``limit`` items above ``after_id`` and returns how many and the last id;
repeated from that id until it returns fewer, it has purged everything due. Nothing here
reads or logs what a mail or letter says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from handlers import deadlines
from handlers.policy import RecordRetention
from storage import audit
from storage import cases as case_store
from storage import mail_copies as copies
from storage import purge as store
from storage.case_status import CLOSED
from storage.models import CaseStatus

#: The kinds the purge counts, in the order it runs them (the output's and the audit's keys).
KINDS = ("other_mail", "forwards", "report_attachments", "erased_letters", "cases")


def years_before(moment: datetime, years: int) -> datetime:
    """The same moment ``years`` earlier; 29 February becomes 28 February in a common year."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


@dataclass(frozen=True)
class Cutoffs:
    """Everything that happened before these moments is due."""

    other_mail: datetime
    report_attachments: datetime
    cases: datetime

    @classmethod
    def at(cls, now: datetime, policy: RecordRetention) -> Cutoffs:
        return cls(other_mail=now - timedelta(days=policy.other_mail_days),
                   report_attachments=now - timedelta(days=policy.report_attachments_days),
                   cases=years_before(now, policy.case_years))


def due_counts(session: Session, now: datetime, policy: RecordRetention) -> dict[str, int]:
    """How many items of each kind a purge at ``now`` would handle (``--dry-run``)."""
    cut = Cutoffs.at(now, policy)
    return {"other_mail": store.count_other_mail_due(session, cut.other_mail),
            "forwards": copies.count_forwards_due(session, cut.other_mail),
            "report_attachments": store.count_attachments_due(session, cut.report_attachments),
            "erased_letters": len(store.redacted_cases_with_addresses(session, 1_000_000)),
            "cases": store.count_cases_due(session, cut.cases)}


@dataclass(frozen=True)
class Batch:
    """One batch's work: how many items, and the last id (where the next batch starts)."""

    count: int
    last_id: int


def purge_other_mail(session: Session, now: datetime, policy: RecordRetention, *,
                     limit: int, after_id: int = 0) -> Batch:
    ids = store.other_mail_due(session, Cutoffs.at(now, policy).other_mail, limit, after_id)
    store.purge_inbound(session, ids, now)
    return Batch(len(ids), ids[-1] if ids else after_id)


def purge_forwards(session: Session, now: datetime, policy: RecordRetention, *,
                   limit: int, after_id: int = 0) -> Batch:
    ids = copies.forwards_due(session, Cutoffs.at(now, policy).other_mail, limit, after_id)
    copies.purge_forwards(session, ids, now)
    return Batch(len(ids), ids[-1] if ids else after_id)


def purge_report_attachments(session: Session, now: datetime, policy: RecordRetention, *,
                             limit: int, after_id: int = 0) -> Batch:
    ids = store.attachments_due(session, Cutoffs.at(now, policy).report_attachments, limit,
                                after_id)
    store.purge_attachments(session, ids, now)
    return Batch(len(ids), ids[-1] if ids else after_id)


def delete_expired_cases(session: Session, now: datetime, policy: RecordRetention, *,
                         limit: int, actor: str = audit.BOT_ACTOR) -> tuple[int, dict[str, int]]:
    """Delete up to ``limit`` case files past ``case_years``; each leaves a statistic row and
    an audit entry (case id, dates, counts). Returns (cases looked at, counts by part)."""
    cutoff = Cutoffs.at(now, policy).cases
    ids = store.cases_due(session, cutoff, limit)
    parts = {"cases": 0, "case_mails": 0, "case_letters": 0, "case_attachments": 0}
    for case_id in ids:
        case = case_store.get_case(session, case_id, for_update=True)
        # Decided again under the lock: another instance may have deleted it meanwhile.
        if (case is None or CaseStatus(case.status) not in CLOSED or case.closed_at is None
                or case.closed_at >= cutoff):
            continue
        closed_on = case.closed_at.date().isoformat()
        counts = store.delete_case_file(session, case, now, days=(
            deadlines.local_date(case.received_at, policy.timezone),
            deadlines.local_date(case.closed_at, policy.timezone)))
        audit.record(session, actor, "retention.case_deleted", case_id=case_id, details={
            "closed_on": closed_on, "case_years": policy.case_years, "mails": counts.mails,
            "letters": counts.letters, "attachments": counts.attachments,
            "chat": counts.chat, "challenges": counts.challenges, "as_of": now.isoformat()})
        parts["cases"] += 1
        parts["case_mails"] += counts.mails
        parts["case_letters"] += counts.letters
        parts["case_attachments"] += counts.attachments
    return len(ids), parts
