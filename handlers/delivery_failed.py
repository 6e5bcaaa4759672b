"""The way out of ``delivery_failed``: resend to the corrected address, or record another way.

Why these two and nothing else: a case is ``delivery_failed`` because its final letter (the
answer or the refusal) bounced, so the requester got nothing. Re-approving would carry the
rights out again and mail the same address that just bounced; refusing or withdrawing would
misstate what happened. Staff do one of:

* **resend**: the letter that bounced, as it was, goes again, but only to the customer's
  *registered* address and only once that address is no longer the one that bounced (it was
  corrected by a rectification or in the register). Personal data never goes to an address
  typed at the moment: the register is the one place an address is vouched for, and
  :func:`handlers.rights.base.registered_recipient` is the same check the first letter passed.
* **delivered another way** (by post, handed over, read out on the phone): a required note
  says how and when.

Either closes the case into the outcome it had before the bounce (``done`` for an answer,
``refused`` for a refusal certificate), audited with the staff member; no case then waits in
``delivery_failed`` and ``dsrbot status`` is healthy again. A resent letter that bounces in
turn reopens the case as the first one did.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from handlers import cases as engine
from handlers.bounces import NOT_FINAL
from handlers.rights.base import RightsError, registered_recipient
from mailformat import UnsafeValue
from storage import audit, outbox
from storage import cases as store
from storage.case_status import TransitionError
from storage.models import Case, CaseStatus, Customer, OutboundMessage, OutboundState

MAX_NOTE = 500


def _failed_locked(session: Session, case: Case, what: str) -> None:
    store.lock_case(session, case)
    if case.status != CaseStatus.DELIVERY_FAILED:
        raise engine.CaseError(f"{case.id} is {case.status}; only a case whose answer bounced "
                               f"(delivery_failed) can be {what}")


def _outcome_before_bounce(session: Session, case: Case) -> CaseStatus:
    """``done`` or ``refused``: what the case was when its final letter bounced."""
    for entry in reversed(store.case_audit_trail(session, case.id)):
        if (entry.action == "case.status"
                and entry.details.get("to") == CaseStatus.DELIVERY_FAILED.value
                and entry.details.get("from") in (CaseStatus.DONE, CaseStatus.REFUSED)):
            return CaseStatus(entry.details["from"])
    return CaseStatus.REFUSED if case.refused_by else CaseStatus.DONE


def bounced_answers(session: Session, case_id: str) -> list[OutboundMessage]:
    """The case's final letters that bounced, oldest first."""
    rows = session.exec(select(OutboundMessage).where(
        col(OutboundMessage.case_id) == case_id,
        col(OutboundMessage.state) == OutboundState.BOUNCED.value,
    ).order_by(col(OutboundMessage.id))).all()
    return [r for r in rows if r.kind not in NOT_FINAL]


def _close(session: Session, case: Case, *, actor: str, reason: str) -> CaseStatus:
    target = _outcome_before_bounce(session, case)
    try:
        store.transition(session, case, target, actor=actor, reasons=[reason])
    except TransitionError as exc:
        raise engine.CaseError(f"{case.id}: {exc}") from exc
    return target


def resend_to_registered_address(
    session: Session, case: Case, *, actor: str, domain: str
) -> engine.Decision:
    """Send the bounced answer again to the corrected registered address, then close."""
    _failed_locked(session, case, "sent again")
    letters = bounced_answers(session, case.id)
    if not letters:
        raise engine.CaseError(f"{case.id}: no bounced answer to send again")
    customer = session.get(Customer, case.customer_id) if case.customer_id else None
    if customer is None:
        raise engine.CaseError(f"{case.id}: no customer is matched, so there is no registered "
                               "address; deliver it another way and record that")
    try:
        address = registered_recipient(case, customer)
    except RightsError as exc:
        raise engine.CaseError(str(exc)) from exc
    bounced = {r.recipient.strip().lower() for r in letters}
    if address.strip().lower() in bounced:
        raise engine.CaseError(
            f"{case.id}: the registered address is still the one that bounced; correct it "
            "first (a rectification, or the register), or deliver the answer another way "
            "and record that")
    if customer.email_undeliverable_at is not None:  # it described the old address
        customer.email_undeliverable_at = customer.email_undeliverable_status = None
        session.add(customer)
        audit.record(session, actor, "register.email_undeliverable_cleared", case_id=case.id,
                     customer_number=customer.customer_number)
    thread = list(case.thread_message_ids)
    sent: list[int] = []
    for row in letters:
        assert row.id is not None
        mail = outbox.load_mail(session, row.id)
        assert mail is not None
        try:
            new = outbox.enqueue(
                session, kind=row.kind, recipient=address, subject=mail.subject,
                body_text=mail.body_text, body_html=mail.body_html, domain=domain,
                case_id=case.id, in_reply_to=thread[0] if thread else None, references=thread,
                attachments=list(mail.attachments), actor=actor)
        except UnsafeValue as exc:
            raise engine.CaseError(f"{case.id}: the registered address is not usable ({exc})"
                                   ) from exc
        engine.add_thread_id(session, case, new.message_id, actor=actor)
        assert new.id is not None
        sent.append(new.id)
        audit.record(session, actor, "case.answer_resent", case_id=case.id,
                     details={"bounced_outbound_id": row.id, "outbound_id": new.id,
                              "kind": row.kind})
    status = _close(session, case, actor=actor,
                    reason=f"sent again to the corrected registered address "
                           f"({len(sent)} letter(s))")
    return engine.Decision(case.id, "resend", True, status.value,
                           f"{case.id}: answer sent again to the registered address; "
                           f"the case is {status.value}")


def delivered_another_way(
    session: Session, case: Case, *, note: str, actor: str
) -> engine.Decision:
    """Record that staff delivered the answer another way (e.g. by post), then close."""
    how = " ".join(note.split())[:MAX_NOTE]
    if not how:
        raise engine.CaseError("say how and when the answer was delivered (a note is required)")
    _failed_locked(session, case, "marked delivered")
    status = _close(session, case, actor=actor, reason=f"answer delivered another way: {how}")
    # The note itself stays on the case (staff read it there); the audit counts it.
    audit.record(session, actor, "case.delivered_another_way", case_id=case.id,
                 details={"chars": len(how), "status": status.value})
    return engine.Decision(case.id, "delivered", True, status.value,
                           f"{case.id}: recorded as delivered another way; the case is "
                           f"{status.value}")
