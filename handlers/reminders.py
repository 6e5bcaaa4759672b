"""What the clock owes a case, a challenge or a customer at a given moment (pure decisions).

Why these rules:

* Deadlines are data on the case; this module only reads them. It answers "which reminders
  are due now" and names each with a stable key (kind + the day it belongs to), so the
  scheduler can record it once and never repeat it (:mod:`storage.reminders`).
* Reminder offsets are counted in *working* days before the applicable due date (the extended
  one once extended), with the Finnish calendar of :mod:`handlers.deadlines`, so a reminder
  never falls on a weekend or a holiday and a holiday shifts it to the working day before.
* Catching up: when several offsets have passed unseen (the service was down), only the
  latest one is due; the ones it replaces are stale news and are never sent. So a restart sends
  at most one reminder per case, once.
* Overdue: one escalation per working day from the day after the due date until the case
  closes. Days the service missed are not sent afterwards (today's escalation says it all).
* Extension warning: an extension is only possible within the first month (GDPR Art. 12(3)),
  so staff are warned before it ends on cases that may need one (several request types, or
  still waiting for identity or approval). After the first month the warning is pointless.
* Identity challenges: one reminder to the registered address before the code expires; an
  expired code with the case still waiting for identity closes the case as unverified.
* Retention: the notice keeps data "10 vuotta asiakkuuden päättymisestä lukien"; a customer is
  due for anonymisation the day after that anniversary.

Everything here takes plain objects and a moment; nothing reads the clock or the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

from handlers import deadlines
from handlers.cases import effective_due, is_open
from storage.models import Case, CaseStatus, Customer, IdentityChallenge

#: Kinds of things the scheduler does; each is one key space in the SentReminder table.
DEADLINE: Final = "deadline_reminder"
OVERDUE: Final = "overdue"
EXTENSION_WARNING: Final = "extension_warning"
CHALLENGE_REMINDER = "challenge_reminder"
CHALLENGE_EXPIRED = "challenge_expired"
RETENTION = "retention"
RETENTION_HELD = "retention_held"
RETENTION_SWEEP = "retention_sweep"
DIGEST = "digest"

CaseReminderKind = Literal["deadline_reminder", "overdue", "extension_warning"]
ChallengeStep = Literal["remind", "expire"]

#: Statuses in which a case may still need more time than the first month gives.
WAITING_STATUSES: Mapping[str, str] = {
    CaseStatus.RECEIVED.value: "not yet routed",
    CaseStatus.AWAITING_IDENTITY.value: "still awaiting identity",
    CaseStatus.AWAITING_APPROVAL.value: "still awaiting approval",
}


@dataclass(frozen=True)
class ReminderPolicy:
    """The settings this module needs (``scheduler.*``), as plain values."""

    offsets: tuple[int, ...] = (7, 3, 1)
    extension_warning_working_days: int = 5
    overdue_escalation: bool = True
    challenge_reminder_before: timedelta = timedelta(hours=24)
    tz: str = deadlines.DEFAULT_TZ


@dataclass(frozen=True)
class DueReminder:
    """One reminder owed for a case now. ``key_date`` + ``kind`` + case id make it unique."""

    kind: CaseReminderKind
    case_id: str
    key_date: date
    due: date
    #: Working days from today to the due date (negative: working days overdue).
    working_days_left: int
    #: For deadline reminders: the offset it stands for.
    offset: int | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)


# --- cases -----------------------------------------------------------------------------------


def reminder_dates(due: date, offsets: Iterable[int]) -> dict[int, date]:
    """The working day each offset falls on: ``offset`` working days before ``due``."""
    return {k: deadlines.add_working_days(due, -k) for k in offsets}


def may_need_extension(case: Case) -> list[str]:
    """Why a case might not be answerable within the first month (empty: it looks fine)."""
    reasons = []
    if len(set(case.types)) > 1:
        reasons.append(f"{len(set(case.types))} request types")
    waiting = WAITING_STATUSES.get(case.status)
    if waiting:
        reasons.append(waiting)
    return reasons


def case_reminders(case: Case, today: date, policy: ReminderPolicy) -> list[DueReminder]:
    """Every reminder owed for ``case`` on ``today`` (the local date), at most one per kind."""
    if not is_open(case):
        return []
    due = effective_due(case)
    found: list[DueReminder] = []
    left = deadlines.working_days_between(today, due)
    if today > due:
        if policy.overdue_escalation and deadlines.is_working_day(today):
            found.append(DueReminder(OVERDUE, case.id, today, due, left,
                                     reasons=(f"overdue by {-left} working day(s)",)))
    else:
        deadline = _deadline_reminder(case, today, due, left, policy)
        if deadline is not None:
            found.append(deadline)
    warning = extension_warning(case, today, policy)
    if warning is not None:
        found.append(warning)
    return found


def _deadline_reminder(
    case: Case, today: date, due: date, left: int, policy: ReminderPolicy
) -> DueReminder | None:
    received = deadlines.local_date(case.received_at, policy.tz)
    passed = [(when, k) for k, when in reminder_dates(due, policy.offsets).items()
              if received <= when <= today]
    if not passed:
        return None
    when, offset = max(passed)  # the latest one replaces any missed before it
    return DueReminder(DEADLINE, case.id, when, due, left, offset=offset,
                       reasons=(f"due in {left} working day(s)",))


def extension_warning(case: Case, today: date, policy: ReminderPolicy) -> DueReminder | None:
    """The warning owed while an extension is still possible and the case may need one."""
    if not is_open(case) or case.extended:
        return None
    first_due = case.due_date
    if not deadlines.extension_allowed(case.received_at, today, tz=policy.tz):
        return None
    warn_from = deadlines.add_working_days(first_due, -policy.extension_warning_working_days)
    if today < warn_from or today > first_due:
        return None
    reasons = may_need_extension(case)
    if not reasons:
        return None
    left = deadlines.working_days_between(today, first_due)
    return DueReminder(EXTENSION_WARNING, case.id, first_due, first_due, left,
                       reasons=tuple(reasons))


# --- identity challenges ---------------------------------------------------------------------


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def challenge_reminder_at(challenge: IdentityChallenge, policy: ReminderPolicy) -> datetime:
    """When the one reminder goes: ``challenge_reminder_before`` ahead of expiry, but never in
    the first half of a short-lived code's life."""
    created, expires = as_utc(challenge.created_at), as_utc(challenge.expires_at)
    return max(created + (expires - created) / 2, expires - policy.challenge_reminder_before)


def challenge_step(
    case: Case, challenge: IdentityChallenge, now: datetime, policy: ReminderPolicy
) -> ChallengeStep | None:
    """What the clock owes the case's newest challenge now: a reminder, the close, or nothing.

    Nothing once the challenge is used (confirmed, superseded or revoked: ``consumed_at``), or
    when the case no longer waits for identity (verified meanwhile, or closed).
    """
    if (case.status != CaseStatus.AWAITING_IDENTITY.value or case.verification_level == "verified"
            or challenge.consumed_at is not None or challenge.case_id != case.id):
        return None
    if now >= as_utc(challenge.expires_at):
        return "expire"
    if not challenge.code_hash:
        return None  # not mailed yet (the hourly letter): nothing to remind of
    if challenge.attempts < challenge.max_attempts and now >= challenge_reminder_at(
            challenge, policy):
        return "remind"
    return None


# --- retention -------------------------------------------------------------------------------


def add_years(d: date, years: int) -> date:
    """Same day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def retention_ends(relationship_end: date, years: int) -> date:
    """The last day the notice lets us keep the data."""
    return add_years(relationship_end, years)


def retention_due(customer: Customer, today: date, years: int) -> bool:
    """True when the relationship ended more than ``years`` years before ``today``."""
    return (customer.anonymised_at is None and customer.relationship_end is not None
            and today > retention_ends(customer.relationship_end, years))


def retention_cutoff(today: date, years: int) -> date:
    """Every customer due on ``today`` ended before this date (a query bound; some just before
    it may not be due yet, so filter with :func:`retention_due`)."""
    return add_years(today, -years) + timedelta(days=1)


# --- the daily digest ------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """What staff read each morning. Ids, dates and counts only; no personal data."""

    day: date
    by_status: Mapping[str, int]
    due_this_week: Sequence[tuple[str, date]]
    overdue: Sequence[tuple[str, date]]
    awaiting_identity: Sequence[str]
    anonymised: Sequence[str]
    retention_held: int = 0
    #: ``COUNT HASH`` of the audit chain recorded today: staff keep it outside the database.
    audit_checkpoint: str | None = None
    #: The staff desk (``web.base_url``), empty when the desk is off: the listed cases and the
    #: queue are linked to it.
    desk_url: str = ""

    @property
    def open_total(self) -> int:
        return sum(self.by_status.values())


def build_digest(
    day: date,
    open_cases: Sequence[Case],
    *,
    anonymised: Sequence[str] = (),
    retention_held: int = 0,
    week_days: int = 7,
) -> Digest:
    """Sort the open cases into the digest's lists (``day`` is the local date)."""
    by_status: dict[str, int] = {}
    soon: list[tuple[str, date]] = []
    late: list[tuple[str, date]] = []
    waiting: list[str] = []
    horizon = day + timedelta(days=week_days)
    for case in open_cases:
        if not is_open(case):
            continue
        by_status[case.status] = by_status.get(case.status, 0) + 1
        due = effective_due(case)
        if due < day:
            late.append((case.id, due))
        elif due <= horizon:
            soon.append((case.id, due))
        if case.status == CaseStatus.AWAITING_IDENTITY.value:
            waiting.append(case.id)
    order = [s.value for s in CaseStatus]
    return Digest(
        day=day,
        by_status={s: by_status[s] for s in order if s in by_status},
        due_this_week=sorted(soon, key=lambda x: (x[1], x[0])),
        overdue=sorted(late, key=lambda x: (x[1], x[0])),
        awaiting_identity=sorted(waiting),
        anonymised=list(anonymised),
        retention_held=retention_held,
    )


MAX_LISTED = 25


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" … (+{len(items) - MAX_LISTED})" if len(items) > MAX_LISTED else "")


def render_digest(digest: Digest) -> str:
    """Plain text for the staff chat (and the console log)."""
    lines = [f"📋 Daily digest {digest.day.isoformat()}: {digest.open_total} open case(s)"]
    if digest.by_status:
        lines.append("By status: " + ", ".join(
            f"{status.replace('_', ' ')} {n}" for status, n in digest.by_status.items()))
    lines.append(f"Due within a week ({len(digest.due_this_week)}): "
                 + (_listing([f"{c} ({d.isoformat()})" for c, d in digest.due_this_week])
                    or "none"))
    lines.append(f"Overdue ({len(digest.overdue)}): "
                 + (_listing([f"{c} (due {d.isoformat()})" for c, d in digest.overdue])
                    or "none"))
    lines.append(f"Awaiting identity ({len(digest.awaiting_identity)}): "
                 + (_listing(list(digest.awaiting_identity)) or "none"))
    lines.append(f"Anonymised by retention since the last digest ({len(digest.anonymised)}): "
                 + (_listing([f"customer {n}" for n in digest.anonymised]) or "none"))
    if digest.retention_held:
        lines.append(f"Past retention but held (open invoice, collection, legal hold, "
                     f"org contact): {digest.retention_held}")
    if digest.audit_checkpoint:
        lines.append(f"Audit checkpoint: {digest.audit_checkpoint}")
    if digest.desk_url:
        lines.extend(_desk_links(digest))
    return "\n".join(lines)


def _desk_links(digest: Digest) -> list[str]:
    """Each case the digest lists, linked to its page on the desk (as the chat card links
    it), then the queue: staff tap straight from the morning's list to the case."""
    base = digest.desk_url.rstrip("/")
    listed = dict.fromkeys([*(c for c, _ in digest.overdue),
                            *(c for c, _ in digest.due_this_week), *digest.awaiting_identity])
    shown = list(listed)[:MAX_LISTED]
    lines = [f"Case pages on the desk ({len(listed)}):"] if listed else []
    lines.extend(f"- {case_id}: {base}/cases/{case_id}" for case_id in shown)
    if len(listed) > len(shown):
        lines.append(f"- … (+{len(listed) - len(shown)}) in the queue")
    lines.append(f"Queue on the desk: {base}/cases")
    return lines


def render_case_reminder(reminder: DueReminder, case: Case) -> str:
    """The staff chat line for one case reminder: id, dates, status, assignee. No personal data."""
    status = case.status.replace("_", " ")
    who = f" Assigned to {case.assignee}." if case.assignee else " Not assigned."
    due = reminder.due.isoformat()
    if reminder.kind == OVERDUE:
        head = (f"🚨 {case.id} is OVERDUE: it was due {due} "
                f"({-reminder.working_days_left} working day(s) ago).")
    elif reminder.kind == EXTENSION_WARNING:
        head = (f"⚠️ {case.id}: the first month ends {due} ({reminder.working_days_left} working "
                f"day(s) left). An extension is only possible until then "
                f"({'; '.join(reminder.reasons)}).")
    else:
        head = (f"⏰ {case.id} is due {due}: {reminder.working_days_left} working day(s) left.")
    return f"{head} Status: {status}.{who}"
