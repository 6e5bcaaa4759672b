"""Decisions on a case: identity, routing, approve, refuse, withdraw, done, assign, ask.

Each re-reads the case under a row lock and is idempotent where a double tap in a chat must
act once; every change is a checked status transition, audited with who did it and why.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlmodel import Session

from handlers.cases.rules import (
    DEFAULT_AUTO_APPROVE,
    CaseError,
    Decision,
    actor_name,
    approval_blockers,
    is_open,
    next_status,
)
from handlers.cases.threads import add_thread_id
from handlers.letters import render_letter
from mailformat import UnsafeValue
from storage import audit, outbox
from storage import cases as store
from storage.case_status import TransitionError
from storage.models import Case, CaseStatus

# --- identity and routing ------------------------------------------------------------------------


def record_identity(
    session: Session,
    case: Case,
    *,
    verification_level: str,
    signature_state: str,
    customer_id: int | None,
    now: datetime,
    reasons: Sequence[str] = (),
    actor: str = audit.BOT_ACTOR,
) -> None:
    """Store what the identity and signature checks found, audited with their reasons."""
    store.lock_case(session, case)
    before = {"verification_level": case.verification_level,
              "signature_state": case.signature_state, "customer_id": case.customer_id}
    case.verification_level = verification_level
    case.signature_state = signature_state
    case.customer_id = customer_id
    case.reasons = [*case.reasons, *reasons]
    case.updated_at = now
    session.add(case)
    audit.record(session, actor, "case.identity", case_id=case.id, details={
        "from": before,
        "to": {"verification_level": verification_level, "signature_state": signature_state,
               "customer_id": customer_id},
        "reasons": list(reasons)})


def advance(
    session: Session,
    case: Case,
    *,
    auto_approve: Collection[str] = DEFAULT_AUTO_APPROVE,
    reasons: Sequence[str] = (),
    actor: str = audit.BOT_ACTOR,
    require_signature: Collection[str] = (),
) -> Decision:
    """Move an open case to where :func:`next_status` says (approving only auto-approve types)."""
    store.lock_case(session, case)
    if not is_open(case) or case.status == CaseStatus.APPROVED:
        return Decision(case.id, "advance", False, case.status, f"{case.id} is {case.status}")
    target = next_status(case, auto_approve, require_signature)
    if target.value == case.status:
        return Decision(case.id, "advance", False, case.status, f"{case.id} is {case.status}")
    if target is CaseStatus.APPROVED:
        return _approve_locked(session, case, actor=actor,
                               reasons=[*reasons, "auto-approved type"], by_staff=False,
                               require_signature=require_signature)
    _transition(session, case, target, actor=actor, reasons=list(reasons))
    return Decision(case.id, "advance", True, case.status, f"{case.id} is now {case.status}")


# --- decisions -----------------------------------------------------------------------------------


def _transition(
    session: Session, case: Case, status: CaseStatus, *, actor: str, reasons: list[str]
) -> None:
    """A checked transition whose refusal reads like every other case error."""
    try:
        store.transition(session, case, status, actor=actor, reasons=reasons)
    except TransitionError as exc:
        raise CaseError(f"{case.id}: {exc}") from exc


def closed_error(case: Case, action: str) -> CaseError:
    return CaseError(f"{case.id} is {case.status}; cannot {action} a closed case")


def approve(
    session: Session, case: Case, *, actor: str, reasons: Sequence[str] = (),
    require_signature: Collection[str] = (),
) -> Decision:
    """Approve once. A repeat reports who approved; a blocked case raises :class:`CaseError`."""
    store.lock_case(session, case)
    return _approve_locked(session, case, actor=actor, reasons=list(reasons),
                           by_staff=actor != audit.BOT_ACTOR,
                           require_signature=require_signature)


def _approve_locked(
    session: Session, case: Case, *, actor: str, reasons: list[str], by_staff: bool,
    require_signature: Collection[str] = (),
) -> Decision:
    if case.status in (CaseStatus.APPROVED, CaseStatus.DONE):
        by = actor_name(case.approved_by or "?")
        return Decision(case.id, "approve", False, case.status,
                        f"{case.id} already approved by {by}")
    if not is_open(case):
        raise closed_error(case, "approve")
    if case.status == CaseStatus.DELIVERY_FAILED:
        # Approving again would carry the rights out again and mail the address that bounced.
        raise CaseError(f"{case.id}: its answer bounced; send it again to the corrected "
                        "registered address (resend) or record how it was delivered "
                        "(delivered)")
    blockers = approval_blockers(case, by_staff=by_staff, require_signature=require_signature)
    if blockers:
        raise CaseError(f"{case.id} cannot be approved: {'; '.join(blockers)}")
    if (by_staff and case.signature_state == "staff_to_check"
            and set(require_signature) & set(case.types)):
        reasons = [*reasons, "signature checked by staff"]
    case.approved_by = actor
    _transition(session, case, CaseStatus.APPROVED, actor=actor, reasons=reasons)
    return Decision(case.id, "approve", True, case.status,
                    f"{case.id} approved by {actor_name(actor)}")


def refuse(
    session: Session, case: Case, *, reason: str, actor: str
) -> Decision:
    """Refuse with a reason (the refusal letter states it). A repeat reports who refused."""
    if not reason.strip():
        raise CaseError("a refusal needs a reason (the requester is told it)")
    store.lock_case(session, case)
    if case.status == CaseStatus.REFUSED:
        by = actor_name(case.refused_by or "?")
        return Decision(case.id, "refuse", False, case.status, f"{case.id} already refused by {by}")
    if not is_open(case):
        raise closed_error(case, "refuse")
    case.refused_by, case.refusal_reason = actor, reason.strip()
    _transition(session, case, CaseStatus.REFUSED, actor=actor, reasons=[reason.strip()])
    return Decision(case.id, "refuse", True, case.status,
                    f"{case.id} refused by {actor_name(actor)}")


def withdraw(
    session: Session, case: Case, *, actor: str, reasons: Sequence[str] = ()
) -> Decision:
    """The requester takes the request back (possible until the answer is done)."""
    store.lock_case(session, case)
    if case.status == CaseStatus.WITHDRAWN:
        return Decision(case.id, "withdraw", False, case.status, f"{case.id} already withdrawn")
    if not is_open(case):
        raise closed_error(case, "withdraw")
    _transition(session, case, CaseStatus.WITHDRAWN, actor=actor, reasons=list(reasons))
    return Decision(case.id, "withdraw", True, case.status, f"{case.id} withdrawn")


def mark_done(
    session: Session, case: Case, *, actor: str, reasons: Sequence[str] = ()
) -> Decision:
    """Close an approved case once its answer is in the outbox."""
    store.lock_case(session, case)
    if case.status == CaseStatus.DONE:
        return Decision(case.id, "done", False, case.status, f"{case.id} already done")
    if case.status != CaseStatus.APPROVED:
        raise CaseError(f"{case.id} is {case.status}; only an approved case can be done")
    _transition(session, case, CaseStatus.DONE, actor=actor, reasons=list(reasons))
    return Decision(case.id, "done", True, case.status, f"{case.id} done")


def assign(
    session: Session, case: Case, *, staff: str, actor: str, now: datetime
) -> Decision:
    """Give the case to a staff member (who then sees it as theirs)."""
    store.lock_case(session, case)
    if case.assignee == staff:
        return Decision(case.id, "assign", False, case.status,
                        f"{case.id} already assigned to {staff}")
    if not is_open(case):
        raise closed_error(case, "assign")
    before = case.assignee
    case.assignee = staff
    case.updated_at = now
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.assigned", case_id=case.id,
                 details={"from": before, "to": staff})
    return Decision(case.id, "assign", True, case.status, f"{case.id} assigned to {staff}")


def request_information(
    session: Session, case: Case, *, text: str, actor: str, domain: str
) -> Decision:
    """Mail a staff member's question to the requester, in the case's mail thread.

    It goes to the address that asked (it says what is missing, like the receipt does), so it
    must not carry register data: staff are told so where they type it. The audit entry counts
    characters; the text itself stays out of the log. ``domain`` is our Message-ID domain
    (:func:`mailformat.domain_of` of the From address).
    """
    question = text.strip()
    if not question:
        raise CaseError("the question for the requester is empty")
    store.lock_case(session, case)
    if not is_open(case):
        raise closed_error(case, "ask about")
    thread = list(case.thread_message_ids)
    letter = render_letter("information_request", case.language, {"question": question},
                           html=False)
    try:
        row = outbox.enqueue(
            session, kind="information_request", recipient=case.requester,
            subject=letter.subject, body_text=letter.text, domain=domain, case_id=case.id,
            in_reply_to=thread[0] if thread else None, references=thread, actor=actor)
    except UnsafeValue as exc:
        raise CaseError(f"{case.id}: the requester has no usable email address ({exc}); "
                        "please contact them by post or phone") from exc
    add_thread_id(session, case, row.message_id, actor=actor)
    audit.record(session, actor, "case.information_requested", case_id=case.id,
                 details={"outbound_id": row.id, "chars": len(question)})
    return Decision(case.id, "request_information", True, case.status,
                    f"{case.id}: question mailed to the requester")
