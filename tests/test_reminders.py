"""Which reminders are due for a case, a code or a customer at a moment (pure rules).

Calendar used throughout: a request received Tue 24 Nov 2026 is due one month later, Thu 24 Dec,
which is Christmas Eve; with Christmas and the weekend the deadline moves to Mon 28 Dec 2026.
Counted back in working days: 1 -> Wed 23 Dec, 3 -> Mon 21 Dec, 5 -> Thu 17 Dec, 7 -> Tue 15 Dec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from handlers import reminders as rules
from handlers.reminders import ReminderPolicy, case_reminders
from storage.models import Case, CaseStatus, Customer, IdentityChallenge
from tests import factories

RECEIVED = datetime(2026, 11, 24, 9, tzinfo=UTC)
DUE = date(2026, 12, 28)
POLICY = ReminderPolicy()


def d(iso: str) -> date:
    return date.fromisoformat(iso)


def case(
    *,
    types: Sequence[str] = ("access",),
    status: CaseStatus = CaseStatus.AWAITING_APPROVAL,
    extended: bool = False,
    extended_due: date | None = None,
    assignee: str | None = None,
) -> Case:
    now = datetime.now(UTC)
    return Case(id="DSR-2026-0001", types=list(types), status=status.value,
                requester="maija@example.fi", received_at=RECEIVED, due_date=DUE,
                extended=extended, extended_due_date=extended_due, assignee=assignee,
                created_at=now, updated_at=now)


def kinds(c: Case, day: str, policy: ReminderPolicy = POLICY) -> list[tuple[str, date]]:
    return [(r.kind, r.key_date) for r in case_reminders(c, d(day), policy)]


def test_reminders_fall_on_the_working_days_before_a_holiday_shifted_deadline() -> None:
    assert rules.reminder_dates(DUE, (7, 3, 1)) == {
        7: d("2026-12-15"), 3: d("2026-12-21"), 1: d("2026-12-23")}


def test_no_reminder_before_the_first_offset() -> None:
    assert kinds(case(status=CaseStatus.APPROVED), "2026-12-14") == []


def test_each_offset_is_due_from_its_working_day_on() -> None:
    c = case(status=CaseStatus.APPROVED)
    assert kinds(c, "2026-12-15") == [(rules.DEADLINE, d("2026-12-15"))]
    assert kinds(c, "2026-12-18") == [(rules.DEADLINE, d("2026-12-15"))]
    assert kinds(c, "2026-12-21") == [(rules.DEADLINE, d("2026-12-21"))]
    assert kinds(c, "2026-12-23") == [(rules.DEADLINE, d("2026-12-23"))]


def test_holidays_before_the_deadline_repeat_the_last_reminder_key_not_a_new_one() -> None:
    c = case(status=CaseStatus.APPROVED)
    for day in ("2026-12-24", "2026-12-25", "2026-12-26", "2026-12-27", "2026-12-28"):
        assert kinds(c, day) == [(rules.DEADLINE, d("2026-12-23"))], day


def test_missed_reminders_collapse_into_the_latest_one() -> None:
    """Down from 14 to 22 December: on the 22nd only the 3-day reminder is owed."""
    (only,) = case_reminders(case(status=CaseStatus.APPROVED), d("2026-12-22"), POLICY)
    assert (only.kind, only.offset, only.key_date) == (rules.DEADLINE, 3, d("2026-12-21"))
    # From the 22nd to the 28th only Wed 23 and Mon 28 are working days.
    assert only.working_days_left == 2


def test_overdue_escalates_on_working_days_only() -> None:
    c = case(status=CaseStatus.APPROVED)
    assert kinds(c, "2026-12-29") == [(rules.OVERDUE, d("2026-12-29"))]
    assert kinds(c, "2027-01-01") == []  # New Year's Day
    assert kinds(c, "2027-01-02") == []  # Saturday
    assert kinds(c, "2027-01-06") == []  # Epiphany
    assert kinds(c, "2027-01-07") == [(rules.OVERDUE, d("2027-01-07"))]


def test_overdue_counts_working_days_late() -> None:
    (late,) = case_reminders(case(status=CaseStatus.APPROVED), d("2027-01-04"), POLICY)
    assert late.working_days_left == -4  # 29, 30, 31 Dec and 4 Jan


def test_overdue_escalation_can_be_switched_off() -> None:
    policy = ReminderPolicy(overdue_escalation=False)
    assert kinds(case(status=CaseStatus.APPROVED), "2026-12-29", policy) == []


def test_closed_case_gets_no_reminder() -> None:
    for status in (CaseStatus.DONE, CaseStatus.REFUSED, CaseStatus.WITHDRAWN):
        assert kinds(case(status=status), "2026-12-23") == []
        assert kinds(case(status=status), "2026-12-29") == []


def test_extended_case_is_reminded_against_its_extended_due_date() -> None:
    c = case(status=CaseStatus.APPROVED, extended=True, extended_due=d("2027-02-24"))
    assert kinds(c, "2026-12-29") == []  # not overdue: the extension holds
    assert kinds(c, "2027-02-23") == [(rules.DEADLINE, d("2027-02-23"))]


def test_extension_warning_for_a_case_with_several_types() -> None:
    c = case(types=("access", "erasure"), status=CaseStatus.APPROVED)
    assert (rules.EXTENSION_WARNING, DUE) in kinds(c, "2026-12-17")
    assert (rules.EXTENSION_WARNING, DUE) not in kinds(c, "2026-12-16")


def test_extension_warning_for_a_case_still_awaiting_identity_or_approval() -> None:
    for status in (CaseStatus.AWAITING_IDENTITY, CaseStatus.AWAITING_APPROVAL):
        (warning,) = [r for r in case_reminders(case(status=status), d("2026-12-21"), POLICY)
                      if r.kind == rules.EXTENSION_WARNING]
        assert warning.reasons and warning.key_date == DUE


def test_no_extension_warning_for_a_simple_approved_case() -> None:
    assert not [k for k, _ in kinds(case(status=CaseStatus.APPROVED), "2026-12-21")
                if k == rules.EXTENSION_WARNING]


def test_no_extension_warning_once_extended_or_after_the_first_month() -> None:
    extended = case(types=("access", "erasure"), extended=True, extended_due=d("2027-02-24"))
    assert rules.extension_warning(extended, d("2026-12-21"), POLICY) is None
    late = case(types=("access", "erasure"))
    assert rules.extension_warning(late, d("2026-12-29"), POLICY) is None


def test_a_late_case_gets_no_reminder_for_offsets_before_it_arrived() -> None:
    c = case(status=CaseStatus.APPROVED)
    policy = ReminderPolicy(offsets=(40, 1))
    assert kinds(c, "2026-12-01", policy) == []


# --- identity challenges ---------------------------------------------------------------------

T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)


def challenge(**kw: object) -> IdentityChallenge:
    values: dict[str, object] = dict(id=1, case_id="DSR-2026-0001", customer_id=1,
                                     code_hash="x" * 64, expires_at=T0 + timedelta(hours=72),
                                     attempts=0, max_attempts=5, created_at=T0)
    values.update(kw)
    return IdentityChallenge(**values)


def test_challenge_reminder_comes_a_day_before_expiry() -> None:
    c = case(status=CaseStatus.AWAITING_IDENTITY)
    assert rules.challenge_step(c, challenge(), T0 + timedelta(hours=47), POLICY) is None
    assert rules.challenge_step(c, challenge(), T0 + timedelta(hours=48), POLICY) == "remind"
    assert rules.challenge_step(c, challenge(), T0 + timedelta(hours=72), POLICY) == "expire"


def test_short_lived_code_is_reminded_at_half_life() -> None:
    short = challenge(expires_at=T0 + timedelta(hours=4))
    assert rules.challenge_reminder_at(short, POLICY) == T0 + timedelta(hours=2)


def test_used_or_answered_challenge_needs_nothing() -> None:
    waiting = case(status=CaseStatus.AWAITING_IDENTITY)
    late = T0 + timedelta(days=5)
    assert rules.challenge_step(waiting, challenge(consumed_at=T0), late, POLICY) is None
    moved_on = case(status=CaseStatus.AWAITING_APPROVAL)
    assert rules.challenge_step(moved_on, challenge(), late, POLICY) is None


def test_exhausted_challenge_gets_no_reminder_but_still_expires() -> None:
    c = case(status=CaseStatus.AWAITING_IDENTITY)
    spent = challenge(attempts=5)
    assert rules.challenge_step(c, spent, T0 + timedelta(hours=50), POLICY) is None
    assert rules.challenge_step(c, spent, T0 + timedelta(hours=73), POLICY) == "expire"


# --- retention -------------------------------------------------------------------------------


def customer(end: date | None, anonymised: bool = False) -> Customer:
    now = datetime.now(UTC)
    return factories.new_customer("1", at=now, relationship_end=end,
                                  anonymised_at=now if anonymised else None)


def test_retention_ends_ten_years_after_the_relationship() -> None:
    c = customer(d("2016-03-15"))
    assert not rules.retention_due(c, d("2026-03-15"), 10)
    assert rules.retention_due(c, d("2026-03-16"), 10)


def test_retention_from_a_leap_day() -> None:
    assert rules.retention_ends(d("2016-02-29"), 10) == d("2026-02-28")
    assert rules.retention_due(customer(d("2016-02-29")), d("2026-03-01"), 10)


def test_retention_cutoff_finds_every_due_customer() -> None:
    for end in (d("2016-02-28"), d("2016-02-29"), d("2016-03-01"), d("2015-12-31")):
        for today in (d("2026-02-28"), d("2026-03-01"), d("2026-03-02"), d("2028-02-29")):
            if rules.retention_due(customer(end), today, 10):
                assert end < rules.retention_cutoff(today, 10), (end, today)


def test_no_retention_without_an_end_or_once_anonymised() -> None:
    assert not rules.retention_due(customer(None), d("2040-01-01"), 10)
    assert not rules.retention_due(customer(d("2000-01-01"), anonymised=True), d("2026-01-01"), 10)


# --- digest ----------------------------------------------------------------------------------


def test_digest_sorts_open_cases_and_holds_no_personal_data() -> None:
    soon = case(status=CaseStatus.AWAITING_IDENTITY)
    late = case(status=CaseStatus.APPROVED)
    late.id, late.due_date = "DSR-2026-0002", d("2026-12-10")
    closed = case(status=CaseStatus.DONE)
    closed.id = "DSR-2026-0003"
    digest = rules.build_digest(d("2026-12-22"), [soon, late, closed], anonymised=["10042"])
    assert digest.by_status == {"awaiting_identity": 1, "approved": 1}
    assert digest.due_this_week == [("DSR-2026-0001", DUE)]
    assert digest.overdue == [("DSR-2026-0002", d("2026-12-10"))]
    assert digest.awaiting_identity == ["DSR-2026-0001"]
    text = rules.render_digest(digest)
    assert "DSR-2026-0001" in text and "customer 10042" in text
    assert "maija" not in text and "@" not in text


def test_digest_links_to_the_desk_queue_when_the_desk_runs() -> None:
    digest = rules.build_digest(d("2026-12-22"), [case(status=CaseStatus.APPROVED)],
                                anonymised=[])
    assert "desk" not in rules.render_digest(digest)
    linked = rules.render_digest(replace(digest, desk_url="https://desk.example"))
    assert "Queue on the desk: https://desk.example/cases" in linked


def test_reminder_text_names_case_dates_and_assignee_only() -> None:
    c = case(status=CaseStatus.APPROVED, assignee="anna")
    (r,) = case_reminders(c, d("2026-12-21"), POLICY)
    text = rules.render_case_reminder(r, c)
    assert "DSR-2026-0001" in text and "2026-12-28" in text and "anna" in text
    assert "@" not in text
