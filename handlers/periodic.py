"""What each periodic job does for ONE item, inside the caller's transaction, exactly once.

Every function here follows the same steps, so a repeat (a restart, a second instance) is
harmless:

1. lock the item (case or customer row) and decide again, from what the database says now,
   whether the action is still owed (:mod:`handlers.reminders` decides);
2. claim the action's key (:func:`storage.reminders.claim`); if it is taken, stop;
3. do it: write the staff chat notification, the letter, the status change and the audit
   entry, all in this transaction, so the claim and the action commit together or not at all.

The chat text and the audit details carry case ids, dates, counts and reasons only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from sqlmodel import Session

from handlers import cases as engine
from handlers import deadlines
from handlers import reminders as rules
from handlers.challenge import ChallengeError, challenge_recipient
from handlers.letters import render_letter
from handlers.rights.base import OrgInfo, send_letter
from handlers.rights.erasure import anonymise
from handlers.rights.holds import erasable_fields, find_holds, relevant_holds
from mailformat import UnsafeValue
from storage import audit, chat_outbox, outbox
from storage import cases as case_store
from storage import reminders as done
from storage.models import Case, Customer, IdentityChallenge

log = logging.getLogger(__name__)
ACTOR = audit.BOT_ACTOR
AUDIT_CHECKPOINT = "audit_checkpoint"

RetentionResult = Literal["anonymised", "held", "skipped"]


def _notify_staff(session: Session, text: str, *, case_id: str | None, now: datetime,
                  **payload: object) -> None:
    """A plain-text message to the staff chat (delivered by the chat's notifier), and a log
    line for the console backend. ``text`` holds no personal data."""
    chat_outbox.notify_staff(session, text, case_id=case_id, now=now, **payload)


# --- case reminders --------------------------------------------------------------------------


def send_case_reminder(
    session: Session,
    case_id: str,
    kind: str,
    key_date: date,
    *,
    now: datetime,
    policy: rules.ReminderPolicy,
    instance: str = "",
) -> bool:
    """Send one deadline reminder, overdue escalation or extension warning; False if it was
    sent already or is no longer owed (the case closed or moved meanwhile)."""
    case = case_store.get_case(session, case_id, for_update=True)
    if case is None:
        return False
    today = deadlines.local_date(now, policy.tz)
    owed = next((r for r in rules.case_reminders(case, today, policy)
                 if r.kind == kind and r.key_date == key_date), None)
    if owed is None:
        return False
    if not done.claim(session, kind=kind, subject=case.id, due_on=key_date, now=now,
                      case_id=case.id, instance=instance):
        return False
    _notify_staff(session, rules.render_case_reminder(owed, case), case_id=case.id, now=now,
                  reminder=kind, due_on=owed.due.isoformat(), assignee=case.assignee)
    audit.record(session, ACTOR, f"scheduler.{kind}", case_id=case.id, details={
        "key_date": key_date.isoformat(), "due_date": owed.due.isoformat(),
        "working_days_left": owed.working_days_left, "offset": owed.offset,
        "assignee": case.assignee, "reasons": list(owed.reasons), "as_of": now.isoformat()})
    return True


# --- identity challenges ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChallengeOutcome:
    step: rules.ChallengeStep | None
    acted: bool


def _lock_challenge(
    session: Session, case_id: str, challenge_id: int
) -> tuple[Case, IdentityChallenge] | None:
    case = case_store.get_case(session, case_id, for_update=True)
    challenge = session.get(IdentityChallenge, challenge_id, with_for_update=True)
    if case is None or challenge is None:
        return None
    return case, challenge


def handle_challenge(
    session: Session,
    case_id: str,
    challenge_id: int,
    *,
    now: datetime,
    policy: rules.ReminderPolicy,
    org: OrgInfo,
    instance: str = "",
) -> ChallengeOutcome:
    """Remind the registered address once, or close the case once the code has expired."""
    locked = _lock_challenge(session, case_id, challenge_id)
    if locked is None:
        return ChallengeOutcome(None, False)
    case, challenge = locked
    step = rules.challenge_step(case, challenge, now, policy)
    if step is None:
        return ChallengeOutcome(None, False)
    expires_on = deadlines.local_date(rules.as_utc(challenge.expires_at), policy.tz)
    kind = rules.CHALLENGE_REMINDER if step == "remind" else rules.CHALLENGE_EXPIRED
    if not done.claim(session, kind=kind, subject=done.challenge_subject(challenge_id),
                      due_on=expires_on, now=now, case_id=case.id, instance=instance):
        return ChallengeOutcome(step, False)
    if step == "remind":
        _remind_registered_address(session, case, challenge, org=org, now=now)
    else:
        _close_unverified(session, case, challenge, org=org, now=now)
    return ChallengeOutcome(step, True)


def _remind_registered_address(
    session: Session, case: Case, challenge: IdentityChallenge, *, org: OrgInfo, now: datetime
) -> None:
    """The one reminder, to the address the code went to, threaded to the code's letter (the
    code itself is not stored, so the reply must quote that letter)."""
    customer = session.get(Customer, challenge.customer_id)
    details: dict[str, object] = {"challenge_id": challenge.id, "as_of": now.isoformat()}
    try:
        if customer is None:
            raise ChallengeError("the customer no longer exists")
        recipient = challenge_recipient(customer)
    except ChallengeError as exc:
        audit.record(session, ACTOR, "identity.challenge_reminder_skipped", case_id=case.id,
                     details={**details, "reason": str(exc)})
        return
    letter = render_letter("identity_reminder", case.language, {
        "org": org.letter_context(), "case_id": case.id,
        "sent_at": rules.as_utc(challenge.created_at),
        "expires_at": rules.as_utc(challenge.expires_at)}, tz=org.timezone)
    original = done.latest_letter(session, case.id, "identity_challenge")
    thread = [original.message_id] if original is not None else []
    row = outbox.enqueue(
        session, kind="identity_reminder", recipient=recipient, subject=letter.subject,
        body_text=letter.text, body_html=letter.html, domain=org.domain, case_id=case.id,
        in_reply_to=thread[0] if thread else None, references=thread, actor=ACTOR, now=now)
    engine.add_thread_id(session, case, row.message_id, actor=ACTOR)
    audit.record(session, ACTOR, "identity.challenge_reminded", case_id=case.id,
                 customer_number=customer.customer_number if customer else None,
                 details={**details, "outbound_id": row.id, "sent_to": "registered address"})


EXPIRED_REASON = "identity not confirmed: the confirmation code expired unanswered"


def _close_unverified(
    session: Session, case: Case, challenge: IdentityChallenge, *, org: OrgInfo, now: datetime
) -> None:
    """Close as unverified: a neutral letter to the requester (it reveals nothing about the
    register), the refusal on the case, and a line to the staff chat."""
    audit.record(session, ACTOR, "identity.challenge_expired", case_id=case.id, details={
        "challenge_id": challenge.id, "attempts": challenge.attempts, "as_of": now.isoformat()})
    outbound_id: int | None = None
    try:
        outbound_id = send_letter(session, org, case, kind="neutral", recipient=case.requester,
                                  context={}, actor=ACTOR).outbound_id
    except UnsafeValue:
        log.warning("case %s: requester address unusable; no neutral letter", case.id)
    engine.refuse(session, case, reason=EXPIRED_REASON, actor=ACTOR)
    _notify_staff(session, f"🔐 {case.id} closed as unverified: the confirmation code expired "
                           "unanswered. A neutral letter went to the requester.",
                  case_id=case.id, now=now, reminder=rules.CHALLENGE_EXPIRED)
    audit.record(session, ACTOR, "scheduler.challenge_expired", case_id=case.id, details={
        "challenge_id": challenge.id, "outbound_id": outbound_id, "as_of": now.isoformat()})


# --- retention -------------------------------------------------------------------------------


def enforce_retention(
    session: Session,
    customer_id: int,
    *,
    now: datetime,
    years: int,
    org: OrgInfo,
    tz: str = deadlines.DEFAULT_TZ,
    instance: str = "",
) -> RetentionResult:
    """Anonymise one customer past retention, unless a hold applies (then audit it once)."""
    customer = done.lock_customer(session, customer_id)
    today = deadlines.local_date(now, tz)
    if customer is None or not rules.retention_due(customer, today, years):
        return "skipped"
    assert customer.relationship_end is not None
    ends = rules.retention_ends(customer.relationship_end, years)
    subject = done.customer_subject(customer_id)
    holds = relevant_holds(customer, find_holds(session, customer, org, today))
    if holds:
        if done.claim(session, kind=rules.RETENTION_HELD, subject=subject, due_on=ends, now=now,
                      instance=instance):
            audit.record(session, ACTOR, "retention.held",
                         customer_number=customer.customer_number, details={
                             "retention_ended": ends.isoformat(),
                             "holds": [h.code for h in holds], "as_of": now.isoformat()})
        return "held"
    if not done.claim(session, kind=rules.RETENTION, subject=subject, due_on=ends, now=now,
                      instance=instance):
        return "skipped"
    erased = erasable_fields(customer, [])
    anonymise(session, customer, erased, full=True, now=now)
    audit.record(session, ACTOR, "retention.anonymised", customer_number=customer.customer_number,
                 details={"retention_ended": ends.isoformat(), "years": years,
                          "fields_erased": list(erased), "as_of": now.isoformat()})
    return "anonymised"


# --- digest ----------------------------------------------------------------------------------


def send_digest(
    session: Session,
    *,
    now: datetime,
    day: date,
    held: int,
    instance: str = "",
) -> rules.Digest | None:
    """The daily digest, once per local day; None when it went already."""
    previous = done.last_done(session, kind=rules.DIGEST, before=day)
    if not done.claim(session, kind=rules.DIGEST, subject=done.STAFF, due_on=day, now=now,
                      instance=instance):
        return None
    since = rules.as_utc(previous.done_at) if previous is not None else now - timedelta(days=1)
    anonymised = _anonymised_since(session, since)
    digest = rules.build_digest(day, engine.open_cases(session), anonymised=anonymised,
                                retention_held=held)
    checkpoint = audit.last_recorded_checkpoint(session)
    if checkpoint is not None:
        digest = replace(digest, audit_checkpoint=str(checkpoint))
    _notify_staff(session, rules.render_digest(digest), case_id=None, now=now,
                  reminder=rules.DIGEST, day=day.isoformat())
    audit.record(session, ACTOR, "scheduler.digest", details={
        "day": day.isoformat(), "open": digest.open_total, "by_status": dict(digest.by_status),
        "due_this_week": len(digest.due_this_week), "overdue": len(digest.overdue),
        "awaiting_identity": len(digest.awaiting_identity),
        "anonymised": len(digest.anonymised), "retention_held": held})
    return digest


def record_audit_checkpoint(
    session: Session,
    *,
    now: datetime,
    day: date,
    org: OrgInfo,
    mail_to: str = "",
    announce: bool = False,
    instance: str = "",
) -> audit.Checkpoint | None:
    """Once per local day: take the chain's head as a checkpoint and send copies outside the
    database (a mail to ``mail_to``; the staff chat when ``announce``, else the digest carries
    it; the caller appends it to the log file). None when today's was taken already.

    The checkpoint is taken before this function's own entries, which the next one anchors.
    """
    if not done.claim(session, kind=AUDIT_CHECKPOINT, subject=done.STAFF, due_on=day, now=now,
                      instance=instance):
        return None
    checkpoint = audit.head(session)
    line = f"Audit checkpoint {day.isoformat()}: {checkpoint}"
    if announce:
        _notify_staff(session, f"🔒 {line}", case_id=None, now=now,
                      reminder=AUDIT_CHECKPOINT, day=day.isoformat())
    if mail_to:
        outbox.enqueue(
            session, kind=AUDIT_CHECKPOINT, recipient=mail_to,
            subject=f"{org.name}: audit checkpoint {day.isoformat()}", domain=org.domain,
            body_text=(f"{line}\n\nKeep this mail. Check the audit log against it with:\n"
                       f'  dsrbot audit verify --checkpoint "{checkpoint}"\n'), now=now)
    audit.record(session, ACTOR, audit.CHECKPOINT_ACTION, details={
        "day": day.isoformat(), "count": checkpoint.count, "hash": checkpoint.hash,
        "mailed": bool(mail_to)})
    return checkpoint


def _anonymised_since(session: Session, since: datetime) -> Sequence[str]:
    rows = done.done_since(session, rules.RETENTION, since)
    ids = [int(r.subject.split(":", 1)[1]) for r in rows if r.subject.startswith("customer:")]
    return done.customer_numbers(session, ids)
