"""A confirmation means this person confirms this request (issue 21, item 1).

What a reply to a request that waits for identity can do, in the message's transaction:

* a code counts only in the sender's own new words (``handlers.identity.own_text``), from the
  registered address, in mail that did not fail DMARC or DKIM at our trusted server;
* an automatic reply (RFC 3834 headers, ``X-Autoreply``, out-of-office wording) never confirms
  and is never answered;
* "not me" from the registered address cancels the code and closes the forged case: the owner
  is told it was cancelled, the requester gets the neutral letter (which reveals nothing);
* any other reply from a person gets a short letter saying what is still needed, never silence;
* a correct code from the registered address finds its case without In-Reply-To, by the case id
  in the subject or by the code alone (codes are stored as unsalted SHA-256, so the hash is the
  look-up key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from handlers import cases as engine
from handlers import challenge as challenges
from handlers.fields import normalise_email
from handlers.identity import IdentityAssessment
from handlers.identity.own_text import auto_reply_reasons, own_new_text, says_not_me
from handlers.parse import ParsedMessage
from handlers.policy import OrgInfo
from handlers.rights.base import send_letter
from storage import audit
from storage import cases as case_store
from storage import challenges as challenge_store
from storage.models import Case, CaseStatus, Customer, IdentityChallenge, OutboundMessage

#: At most this many "still needed" letters per case: a person gets an answer, a loop does not.
MAX_STILL_NEEDED = 3


@dataclass
class ReplyOutcome:
    """What a reply did: ``verified`` when the case is now verified; reasons for staff."""

    verified: bool = False
    reasons: list[str] = field(default_factory=list)


def answers_waiting_confirmation(session: Session, msg: ParsedMessage) -> bool:
    """A reply in the thread of a case waiting for identity (our Message-IDs are not guessable),
    or a valid code from its registered address: the sender rate limit never holds it."""
    case = engine.find_case_for_followup(
        session, in_reply_to=msg.in_reply_to, references=msg.references, subject="",
        sender=msg.from_address, sender_verified=False)
    if case is None:
        case = case_for_code(session, msg)
    return case is not None and case.status == CaseStatus.AWAITING_IDENTITY


def case_for_code(session: Session, msg: ParsedMessage) -> Case | None:
    """A waiting case this mail confirms without a thread: by the case id in its subject or by a
    code in the sender's own words, and only when the sender is that challenge's registered
    address (anyone else's mail starts a new message, as before)."""
    text = own_new_text(msg)
    codes = challenges.find_codes(text)
    if not codes and not says_not_me(text):
        return None
    sender = normalise_email(msg.from_address)
    subject_ids = engine.case_ids_in_subject(msg.subject)[:3]
    candidates = [c for c in (case_store.get_case(session, cid) for cid in subject_ids) if c]
    for code in codes:
        row = session.exec(select(IdentityChallenge)
                           .where(col(IdentityChallenge.code_hash) == challenges.hash_code(code))
                           .where(col(IdentityChallenge.consumed_at).is_(None))).first()
        if row is not None:
            found = session.get(Case, row.case_id)
            if found is not None:
                candidates.append(found)
    for case in candidates:
        row = challenge_store.latest_for_case(session, case.id)
        if (case.status == CaseStatus.AWAITING_IDENTITY and row is not None
                and _registered(session, row) == sender and sender):
            return case
    return None


def handle_reply(
    session: Session, org: OrgInfo, case: Case, msg: ParsedMessage,
    assessment: IdentityAssessment, now: datetime,
) -> ReplyOutcome:
    """Act on a reply in the thread of ``case`` (which waits for identity)."""
    out = ReplyOutcome()
    robot = auto_reply_reasons(msg)
    if robot:
        out.reasons.append(f"automatic reply ({robot[0]}): confirms nothing, not answered")
        return out
    text = own_new_text(msg)
    row = challenge_store.latest_for_case(session, case.id)
    owner = _registered(session, row) if row is not None else ""
    from_owner = bool(owner) and normalise_email(msg.from_address) == owner
    if assessment.sender_auth_failed:
        out.reasons.append("reply failed DMARC or DKIM at our server: confirms nothing")
        return out
    if from_owner and row is not None and says_not_me(text):
        _cancel(session, org, case, row, now)
        out.reasons.append("the registered address says the request was not theirs: "
                           "code cancelled, case closed")
        return out
    for code in challenges.find_codes(text):
        result = challenges.confirm_challenge(session, case.id, code, now,
                                              sender=msg.from_address)
        out.reasons.append(f"confirmation code: {result.outcome}")
        if result.ok:
            session.refresh(case)
            out.verified = True
            return out
        if result.outcome in ("exhausted", "expired", "wrong_sender", "no_challenge"):
            break
    if not text.strip() and not msg.text.strip():
        return out
    _still_needed(session, org, case, msg.from_address, out)
    return out


def _registered(session: Session, row: IdentityChallenge | None) -> str:
    if row is None:
        return ""
    customer = session.get(Customer, row.customer_id)
    if customer is None or customer.anonymised_at is not None:
        return ""
    return normalise_email(customer.email or "")


def _cancel(session: Session, org: OrgInfo, case: Case, row: IdentityChallenge,
            now: datetime) -> None:
    if row.consumed_at is None:
        challenge_store.consume(session, row, now)
    audit.record(session, audit.BOT_ACTOR, "identity.challenge_cancelled_by_owner",
                 case_id=case.id, details={"challenge_id": row.id}, at=now)
    customer = session.get(Customer, row.customer_id)
    engine.withdraw(session, case, actor=audit.BOT_ACTOR, reasons=[
        "the holder of the registered address said the request was not theirs"])
    owner = customer.email if customer is not None else ""
    if owner:
        send_letter(session, org, case, kind="identity_cancelled", recipient=owner, context={})
    if case.requester and normalise_email(case.requester) != normalise_email(owner) and \
            not case.requester.lower().endswith(".invalid"):
        send_letter(session, org, case, kind="neutral", recipient=case.requester, context={},
                    thread=False)


def _still_needed(session: Session, org: OrgInfo, case: Case, sender: str,
                  out: ReplyOutcome) -> None:
    sent = session.exec(select(OutboundMessage.id)
                        .where(col(OutboundMessage.case_id) == case.id)
                        .where(col(OutboundMessage.kind) == "identity_still_needed")).all()
    if len(sent) >= MAX_STILL_NEEDED:
        out.reasons.append("reply without a valid code (no more answers for this case)")
        return
    send_letter(session, org, case, kind="identity_still_needed", recipient=sender, context={})
    out.reasons.append("reply without a valid code: told what is still needed")
