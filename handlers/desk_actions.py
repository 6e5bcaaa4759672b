"""Staff decisions that only the web desk offers, built on the case engine's own functions.

Why a module of its own: approve, refuse, extend, assign and "ask for information" are the
engine's (:mod:`handlers.cases`) and every channel calls them directly. The three here need a
person who has *looked at the evidence* on the desk (the mail, the scanned letter, the
register), so the chat and the console do not offer them:

* **verify identity by staff**: a person vouches for the requester with a required note (what
  they checked), then the case moves on as if a code had been answered;
* **apply a ban** (marketing or publication), asked in the mail or on the phone; a marketing ban
  is unconditional in law (GDPR Art. 21(3)), so it needs no approval. It is the chat's and the
  console's "apply ban" (:func:`handlers.bans_at_once.apply_ban_for_case`): on the customer
  staff name or the one the case matched or names, confirmed to that customer's registered
  address, never to the sender;
* **set the receipt date back**, when the request reached us earlier than the mail we hold
  (a letter to the office, a mail to another mailbox): the deadline runs from then.

Each locks the case, refuses a closed one, and is audited with the staff member and the reason.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session

from handlers import cases as engine
from handlers import deadlines
from handlers.challenge import record_staff_verification
from handlers.policy import OrgInfo
from storage import audit
from storage import cases as store
from storage.models import Case, Customer

#: The bans a staff member may set from the desk, and the request type each stands for.
BANS: dict[str, str] = {"marketing": "marketing_optout", "publication": "publication_ban"}


def _open_locked(session: Session, case: Case, what: str) -> None:
    store.lock_case(session, case)
    if not engine.is_open(case):
        raise engine.CaseError(f"{case.id} is {case.status}; cannot {what} a closed case")


def _note(text: str, what: str) -> str:
    note = " ".join(text.split())
    if not note:
        raise engine.CaseError(f"{what} needs a note saying what you checked and why")
    return note[:500]


def verify_identity(
    session: Session, case: Case, customer: Customer, *, note: str, actor: str,
    now: datetime, auto_approve: Collection[str] = engine.DEFAULT_AUTO_APPROVE,
    require_signature: Collection[str] = (),
) -> engine.Decision:
    """A staff member confirms who the requester is (a required note says how)."""
    reason = _note(note, "verifying an identity")
    _open_locked(session, case, "verify the identity on")
    record_staff_verification(session, case, customer, actor=actor, reason=reason,
                              now=now)
    moved = engine.advance(session, case, auto_approve=auto_approve,
                           reasons=["identity verified by staff"], actor=actor,
                           require_signature=require_signature)
    return engine.Decision(case.id, "verify", True, moved.status,
                           f"{case.id}: identity verified; the case is {moved.status}")


def apply_ban(
    session: Session, case: Case, org: OrgInfo, *, ban: str, note: str, actor: str,
    now: datetime, customer_number: str | None = None,
) -> engine.Decision:
    """Set a marketing or publication ban and confirm it to the customer's registered address."""
    right = BANS.get(ban)
    if right is None:
        raise engine.CaseError(f"unknown ban {ban!r} (marketing or publication)")
    # Imported here: the letter it sends pulls in the PDF and signature libraries, which
    # `dsrbot case` (importing this module for the receipt date) must not load.
    from handlers import bans_at_once

    reason = _note(note, "a ban")
    _open_locked(session, case, "apply a ban on")
    try:
        customer, applied = bans_at_once.apply_ban_for_case(
            session, org, case, now, actor=actor, customer_number=customer_number,
            rights=[right], note=reason)
    except bans_at_once.BanError as exc:
        raise engine.CaseError(str(exc)) from exc
    if not applied:
        return engine.Decision(case.id, "ban", False, case.status,
                               f"{case.id}: the {ban} ban was already applied for customer "
                               f"{customer.customer_number}")
    return engine.Decision(case.id, "ban", True, case.status,
                           f"{case.id}: {ban} ban set for customer {customer.customer_number}; "
                           "confirmed to the customer's registered address")


def set_receipt_date_back(
    session: Session, case: Case, *, received_on: date, reason: str, actor: str,
    now: datetime, tz: str = deadlines.DEFAULT_TZ,
) -> engine.Decision:
    """Move the receipt date earlier (never later) and recompute the due dates from it."""
    why = _note(reason, "changing the receipt date")
    _open_locked(session, case, "change the receipt date of")
    current = deadlines.local_date(case.received_at, tz)
    if received_on >= current:
        raise engine.CaseError(f"{case.id}: the receipt date can only be set back, to a day "
                               f"before {current.isoformat()}")
    before = {"received_on": current.isoformat(), "due_date": case.due_date.isoformat()}
    case.received_at = datetime.combine(received_on, time(0, 0), ZoneInfo(tz)).astimezone(UTC)
    case.due_date = deadlines.due_date(case.received_at, tz=tz)
    if case.extended:
        case.extended_due_date = deadlines.due_date(case.received_at, extended=True, tz=tz)
    case.reasons = [*case.reasons, f"receipt date set back to {received_on.isoformat()}: {why}"]
    case.updated_at = now
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.received_date_changed", case_id=case.id, details={
        "from": before,
        "to": {"received_on": received_on.isoformat(), "due_date": case.due_date.isoformat()},
        "reasons": [why]})
    return engine.Decision(case.id, "received", True, case.status,
                           f"{case.id}: received on {received_on.isoformat()}, "
                           f"due {engine.effective_due(case).isoformat()}")
