"""The clock, end to end: `dsrbot tick` walks cases through their month on SQLite and
PostgreSQL; identity codes expire; retention anonymises unless held; the digest goes once a day;
a restart catches up once.

Calendar: received Tue 24 Nov 2026, due Thu 24 Dec = Christmas Eve, moved to Mon 28 Dec 2026.
Reminders 7/3/1 working days before: Tue 15, Mon 21, Wed 23 Dec. Extension warning 5 working
days before the first month ends: Thu 17 Dec. Overdue escalations: every working day from
Tue 29 Dec (not 1 Jan, not the weekend, not Epiphany 6 Jan).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.policy_from_settings import org_info
from bot.scheduler import PeriodicJobs, Scheduler
from bot.settings import load_settings
from handlers import cases as engine
from handlers import reminders as rules
from handlers.challenge import record_staff_verification
from handlers.clock import FixedClock
from handlers.execute import finish_decided
from storage import audit
from storage import cases as store
from storage.db import Database
from storage.models import CaseStatus, Customer, Invoice
from tests import scheduler_kit as kit
from tests.helpers import run_cli

RECEIVED = datetime(2026, 11, 24, 9, tzinfo=UTC)


def tick(cfg: str, moment: datetime) -> str:
    result = run_cli("--config", cfg, "tick", "--now", moment.isoformat())
    assert result.exit_code == 0, result.output
    return result.output


def local_day(moment: datetime) -> date:
    return moment.astimezone(kit.HELSINKI).date()


def test_a_case_walks_through_its_month_with_tick(db: Database, tmp_path: Path) -> None:
    cfg = kit.write_config(tmp_path, db.url)
    cid = kit.open_case(db, RECEIVED, types=("access", "erasure"), assignee="anna")
    again = {date.fromisoformat(x) for x in (
        "2026-12-15", "2026-12-17", "2026-12-21", "2026-12-23", "2026-12-24", "2026-12-25",
        "2026-12-28", "2026-12-29", "2027-01-01", "2027-01-04", "2027-01-06")}
    for day in kit.days("2026-11-24", "2027-01-08"):
        tick(cfg, kit.local(day, 9))
        if day in again:
            tick(cfg, kit.local(day, 16, 30))  # a second tick the same day repeats nothing
    done = kit.claims(db, cid)
    sent = [(c.kind, c.due_on, local_day(rules.as_utc(c.done_at))) for c in done]
    d = date.fromisoformat
    assert [s for s in sent if s[0] == rules.DEADLINE] == [
        (rules.DEADLINE, d("2026-12-15"), d("2026-12-15")),
        (rules.DEADLINE, d("2026-12-21"), d("2026-12-21")),
        (rules.DEADLINE, d("2026-12-23"), d("2026-12-23")),
    ]
    assert [s for s in sent if s[0] == rules.EXTENSION_WARNING] == [
        (rules.EXTENSION_WARNING, d("2026-12-28"), d("2026-12-17"))]
    overdue = [s[1] for s in sent if s[0] == rules.OVERDUE]
    assert overdue == [d(x) for x in ("2026-12-29", "2026-12-30", "2026-12-31", "2027-01-04",
                                      "2027-01-05", "2027-01-07", "2027-01-08")]
    # One chat message per claim, naming the assignee, never the requester.
    rows = [r for r in kit.chat_rows(db) if r.case_id == cid]
    assert len(rows) == len(done)
    assert all(r.payload["assignee"] == "anna" and "maija" not in r.payload["text"]
               for r in rows)
    assert sum(1 for a in kit.audit_actions(db, f"scheduler.{rules.OVERDUE}")) == 7

    # Once the case closes, the escalation stops.
    with db.session() as s:
        case = store.get_case(s, cid)
        assert case is not None
        engine.withdraw(s, case, actor="dsrbot", reasons=["requester withdrew"])
    tick(cfg, kit.local("2027-01-11"))
    assert len(kit.claims(db, cid)) == len(done)
    with db.read_session() as s:
        assert audit.verify(s).ok


def test_no_reminder_is_sent_twice_on_holiday_shifted_days(db: Database, tmp_path: Path) -> None:
    """From Wed 23 Dec to Mon 28 Dec only the 1-day reminder (of the 23rd) is owed: ticking
    every hour of Christmas sends it once."""
    cfg = kit.write_config(tmp_path, db.url)
    cid = kit.open_case(db, RECEIVED, status=CaseStatus.APPROVED)
    for day in kit.days("2026-12-23", "2026-12-28"):
        for hour in (0, 8, 12, 23):
            tick(cfg, kit.local(day, hour))
    assert [(c.kind, c.due_on) for c in kit.claims(db, cid)] == [
        (rules.DEADLINE, date(2026, 12, 23))]


def test_extension_moves_the_reminders_to_the_new_due_date(db: Database, tmp_path: Path) -> None:
    cfg = kit.write_config(tmp_path, db.url)
    cid = kit.open_case(db, RECEIVED, types=("access", "portability"))
    tick(cfg, kit.local("2026-12-17"))  # the warning (and the 7-day reminder of the 15th)
    with db.session() as s:
        case = store.get_case(s, cid)
        assert case is not None
        engine.extend(s, case, reason="two requests", actor="staff:anna",
                      now=kit.local("2026-12-17", 10))
        new_due = engine.effective_due(case)
    tick(cfg, kit.local("2026-12-29"))  # would be overdue without the extension
    kinds = [(c.kind, c.due_on) for c in kit.claims(db, cid)]
    assert kinds == [(rules.DEADLINE, date(2026, 12, 15)),
                     (rules.EXTENSION_WARNING, date(2026, 12, 28))]
    before = rules.reminder_dates(new_due, (1,))[1]
    tick(cfg, kit.local(before))
    assert (rules.DEADLINE, before) in [(c.kind, c.due_on) for c in kit.claims(db, cid)]


# --- identity challenges ---------------------------------------------------------------------


def test_expiring_code_gets_one_reminder_then_closes_as_unverified(
    db: Database, tmp_path: Path
) -> None:
    cfg = kit.write_config(tmp_path, db.url)
    issued = kit.local("2026-11-24", 10)
    cid = kit.case_awaiting_code(db, issued, number="20001")
    tick(cfg, issued + timedelta(hours=40))
    assert kit.letters(db, "identity_reminder") == []
    for hours in (49, 50, 60):
        tick(cfg, issued + timedelta(hours=hours))
    (reminder,) = kit.letters(db, "identity_reminder")
    assert reminder.recipient == "registered@example.fi"  # the registered address only
    assert reminder.case_id == cid and "DSR" in reminder.body_text

    for hours in (72, 73, 100):
        tick(cfg, issued + timedelta(hours=hours))
    (neutral,) = kit.letters(db, "neutral")
    assert neutral.recipient == "asker@example.net"  # the requester; it reveals nothing
    with db.read_session() as s:
        case = store.get_case(s, cid)
        assert case is not None and case.status == CaseStatus.REFUSED
        assert case.refused_by == audit.SCHEDULER_ACTOR
    assert len(kit.audit_actions(db, "identity.challenge_reminded")) == 1
    assert len(kit.audit_actions(db, "identity.challenge_expired")) == 1
    assert len(kit.letters(db, "identity_reminder")) == 1


def test_code_expiry_sends_one_letter(db: Database, tmp_path: Path) -> None:
    """Expiry closes the case with the neutral letter; the execution sweep that follows every
    batch must not add a refusal certificate "decided by the person responsible"."""
    cfg = kit.write_config(tmp_path, db.url)
    issued = kit.local("2026-11-24", 10)
    cid = kit.case_awaiting_code(db, issued, number="20003")
    tick(cfg, issued + timedelta(hours=73))
    org = org_info(load_settings(Path(cfg)))
    clock = FixedClock(issued + timedelta(hours=74))
    assert finish_decided(db, org, clock=clock) == {
        "done": 0, "refused": 0, "extended": 0, "failed": 0}
    finish_decided(db, org, clock=clock)
    to_requester = [m for m in kit.letters_of_case(db, cid) if m.recipient == "asker@example.net"]
    assert [m.kind for m in to_requester] == ["neutral"]
    assert kit.audit_actions(db, "rights.refused") == []
    (refusal,) = [e for e in kit.audit_actions(db, "case.status") if e.case_id == cid
                  and e.details["to"] == CaseStatus.REFUSED]
    assert refusal.actor == audit.SCHEDULER_ACTOR


def test_answered_code_is_neither_reminded_nor_expired(db: Database, tmp_path: Path) -> None:
    cfg = kit.write_config(tmp_path, db.url)
    issued = kit.local("2026-11-24", 10)
    cid = kit.case_awaiting_code(db, issued, number="20002")
    with db.session() as s:
        case = store.get_case(s, cid)
        customer = s.exec(select(Customer).where(Customer.customer_number == "20002")).one()
        assert case is not None
        record_staff_verification(s, case, customer, actor="staff:anna",
                                  reason="called the registered number", now=issued)
        engine.advance(s, case)
    tick(cfg, issued + timedelta(hours=50))
    tick(cfg, issued + timedelta(hours=80))
    assert kit.letters(db, "identity_reminder") == [] and kit.letters(db, "neutral") == []


# --- retention -------------------------------------------------------------------------------


def test_retention_anonymises_unless_a_hold_applies(db: Database, tmp_path: Path) -> None:
    cfg = kit.write_config(tmp_path, db.url)
    today = date(2026, 12, 1)
    with db.session() as s:
        old = kit.add_customer(s, "30001", email="old@example.fi", end=date(2016, 11, 30))
        recent = kit.add_customer(s, "30002", email="recent@example.fi", end=date(2016, 12, 10))
        invoiced = kit.add_customer(s, "30003", email="inv@example.fi", end=date(2015, 1, 1))
        kit.add_open_invoice(s, invoiced, "INV-1")
        contact = kit.add_customer(s, "30004", email="c@example.fi", end=date(2010, 1, 1),
                                   org_contact=True)
        ids = {n: c.id for n, c in (("old", old), ("recent", recent), ("invoiced", invoiced),
                                    ("contact", contact))}
    for hour in (9, 12):
        tick(cfg, kit.local(today, hour))
    with db.read_session() as s:
        got = {n: s.get(Customer, i) for n, i in ids.items()}
    assert got["old"] is not None and got["old"].anonymised_at is not None
    assert got["old"].email == "" and got["old"].first_name == ""
    for name in ("recent", "invoiced", "contact"):
        kept = got[name]
        assert kept is not None and kept.anonymised_at is None and kept.email, name
    (anonymised,) = kit.audit_actions(db, "retention.anonymised")
    assert anonymised.customer_number == "30001" and "old@" not in str(anonymised.details)
    held = kit.audit_actions(db, "retention.held")
    assert sorted(h.customer_number or "" for h in held) == ["30003", "30004"]  # once each
    # The digest lists who was anonymised and how many are held.
    (digest,) = [r for r in kit.chat_rows(db) if r.payload.get("reminder") == rules.DIGEST]
    assert "customer 30001" in digest.payload["text"] and "held" in digest.payload["text"]

    # The invoice is paid: the next run anonymises that customer too, once.
    with db.session() as s:
        inv = s.exec(select(Invoice)).one()
        inv.status = "paid"
        s.add(inv)
    tick(cfg, kit.local("2026-12-02"))
    tick(cfg, kit.local("2026-12-03"))
    with db.read_session() as s:
        paid = s.get(Customer, ids["invoiced"])
        assert paid is not None and paid.anonymised_at is not None
    numbers = [a.customer_number for a in kit.audit_actions(db, "retention.anonymised")]
    assert sorted(numbers) == ["30001", "30003"]


# --- digest ----------------------------------------------------------------------------------


def test_digest_goes_once_a_working_day_after_its_time(db: Database, tmp_path: Path) -> None:
    cfg = kit.write_config(tmp_path, db.url)
    kit.open_case(db, RECEIVED, status=CaseStatus.AWAITING_IDENTITY)
    tick(cfg, kit.local("2026-12-22", 7, 59))
    tick(cfg, kit.local("2026-12-26", 9))  # Saturday (and Boxing Day)
    assert [r for r in kit.chat_rows(db) if r.payload.get("reminder") == rules.DIGEST] == []
    for hour in (8, 12, 18):
        tick(cfg, kit.local("2026-12-22", hour))
    (digest,) = [r for r in kit.chat_rows(db) if r.payload.get("reminder") == rules.DIGEST]
    text = digest.payload["text"]
    assert "Awaiting identity (1): DSR-2026-0001" in text
    assert "Due within a week (1)" in text and "maija" not in text
    assert "Queue on the desk: http://127.0.0.1:8026/cases" in text  # web.base_url's default


def test_digest_links_each_listed_case_to_its_desk_page(db: Database, tmp_path: Path) -> None:
    overdue = kit.open_case(db, datetime(2026, 10, 1, 9, tzinfo=UTC))
    waiting = kit.open_case(db, RECEIVED, status=CaseStatus.AWAITING_IDENTITY)
    kit.open_case(db, datetime(2026, 12, 21, 9, tzinfo=UTC))  # due next month: not listed
    desk = "https://desk.rusttet.fi/"
    tick(kit.write_config(tmp_path, db.url, f'[web]\nbase_url = "{desk}"\n'),
         kit.local("2026-12-22", 9))
    (digest,) = [r for r in kit.chat_rows(db) if r.payload.get("reminder") == rules.DIGEST]
    lines = digest.payload["text"].splitlines()
    start = lines.index("Case pages on the desk (2):")
    assert lines[start + 1:start + 3] == [
        f"- {overdue}: https://desk.rusttet.fi/cases/{overdue}",
        f"- {waiting}: https://desk.rusttet.fi/cases/{waiting}"]
    assert lines[start + 3] == "Queue on the desk: https://desk.rusttet.fi/cases"


def test_digest_has_no_desk_links_when_the_desk_is_off(db: Database, tmp_path: Path) -> None:
    kit.open_case(db, RECEIVED, status=CaseStatus.AWAITING_IDENTITY)
    tick(kit.write_config(tmp_path, db.url, "[web]\nenabled = false\n"),
         kit.local("2026-12-22", 9))
    (digest,) = [r for r in kit.chat_rows(db) if r.payload.get("reminder") == rules.DIGEST]
    assert "/cases" not in digest.payload["text"]


def test_tick_refuses_a_bad_moment_with_a_clear_error(db: Database, tmp_path: Path) -> None:
    cfg = kit.write_config(tmp_path, db.url)
    result = run_cli("--config", cfg, "tick", "--now", "next tuesday")
    assert result.exit_code == 2
    assert "not an ISO date-time" in result.output


# --- the service component: restarts ---------------------------------------------------------


async def _run_scheduler_once(db: Database, tmp_path: Path, now: datetime) -> None:
    settings = load_settings(Path(kit.write_config(tmp_path, db.url)))
    scheduler = Scheduler(PeriodicJobs(settings, db), settings.scheduler, clock=lambda: now)
    await scheduler.start()
    try:
        for _ in range(600):  # the first runs start at once; wait for them
            if all(n >= 1 for n in scheduler.runs.values()):
                break
            await asyncio.sleep(0.05)
        assert all(n >= 1 for n in scheduler.runs.values()), scheduler.runs
    finally:
        await scheduler.stop()


async def test_a_reminder_that_fell_due_while_down_is_sent_once_at_start(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cid = kit.open_case(db, RECEIVED, status=CaseStatus.APPROVED)
    # Down from 14 to 22 December: the 7- and 3-day reminders fell due unseen.
    caplog.set_level(logging.INFO)
    await _run_scheduler_once(db, tmp_path, kit.local("2026-12-22", 9))
    await _run_scheduler_once(db, tmp_path, kit.local("2026-12-22", 9, 1))  # restart
    await _run_scheduler_once(db, tmp_path, kit.local("2026-12-22", 15))  # and again
    assert [(c.kind, c.due_on) for c in kit.claims(db, cid)] == [
        (rules.DEADLINE, date(2026, 12, 21))]
    assert len([r for r in kit.chat_rows(db) if r.case_id == cid]) == 1
    # On the console backend the notice is logged: case id and dates, no personal data.
    notices = [r.getMessage() for r in caplog.records if "staff notice" in r.getMessage()]
    assert any(cid in n for n in notices) and not any("maija" in n for n in notices)


# --- wiring and settings ---------------------------------------------------------------------


def test_the_service_runs_the_scheduler_unless_switched_off(db: Database, tmp_path: Path) -> None:
    from bot.service import build_components

    on = load_settings(Path(kit.write_config(tmp_path, db.url)))
    assert "scheduler" in [c.name for c in build_components(on, db)]
    off = load_settings(Path(kit.write_config(tmp_path, db.url, "[scheduler]\nenabled = false\n")))
    assert "scheduler" not in [c.name for c in build_components(off, db)]


def test_scheduler_settings_name_a_bad_key(tmp_path: Path) -> None:
    from bot.settings import ConfigError

    cfg = kit.write_config(tmp_path, "sqlite:///x.db", '[scheduler]\ndigest_time = "25:00"\n')
    with pytest.raises(ConfigError, match=r"scheduler\.digest_time"):
        load_settings(Path(cfg))
    cfg = kit.write_config(tmp_path, "sqlite:///x.db",
                           "[scheduler]\nreminder_offsets_working_days = [3, -1]\n")
    with pytest.raises(ConfigError, match=r"scheduler\.reminder_offsets_working_days"):
        load_settings(Path(cfg))
