"""The confirmation letter: at most one per customer per hour, listing every waiting request.

Why not a daily cap (issue 21, item 5): forged requests in a customer's name must not stop her
own from being confirmed the same day. Every request gets its own code, so confirming one never
confirms another; the letter names what each code confirms (request types, when it was received,
its subject line) and how to say "not me". When a letter went to the customer within the hour,
the new request waits with an unmailed placeholder challenge (empty hash, so it can never match)
and :func:`mail_due_confirmations` sends the next letter once the hour has passed, listing every
request still waiting, each with a fresh code.

Once across instances: the letter of held requests is mailed by the transaction that claims
their placeholder challenges (:func:`storage.challenges.claim_held`, ``FOR UPDATE SKIP
LOCKED``), and that letter supersedes them in the same commit; an instance that finds them
claimed or already superseded sends nothing. The placeholder is audited
(``identity.confirmation_held``, with the customer), so every view of the case shows the
matched customer and that the code letter is queued, not "no customer matched".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from handlers import challenge as challenges
from handlers.cases import add_thread_id
from handlers.policy import IdentityPolicy, OrgInfo
from handlers.rights.base import send_letter
from storage import audit
from storage import challenges as challenge_store
from storage.models import Case, CaseStatus, Customer, IdentityChallenge

#: One confirmation letter per customer per this period.
LETTER_INTERVAL = timedelta(hours=1)
#: An unmailed challenge: no code exists for it, so nothing can ever match it.
PLACEHOLDER = challenge_store.HELD


def request_subject(subject: str) -> str:
    """The request's subject as the letter shows it: one line, at most 120 characters."""
    line = " ".join((subject or "").split())
    return line if len(line) <= 120 else line[:117] + "..."


def request_confirmation(
    session: Session, org: OrgInfo, identity: IdentityPolicy, case: Case, customer: Customer,
    now: datetime,
) -> str:
    """Ask the registered address to confirm ``case``; return a reason for staff."""
    challenges.challenge_recipient(customer)  # no address: ChallengeError before anything
    if _mailed_within(session, customer, now):
        assert customer.id is not None
        row, _ = challenge_store.create(
            session, case_id=case.id, customer_id=customer.id, code_hash=PLACEHOLDER,
            expires_at=now + timedelta(hours=identity.challenge_ttl_hours),
            max_attempts=identity.challenge_max_attempts, now=now)
        audit.record(session, audit.BOT_ACTOR, "identity.confirmation_held", case_id=case.id,
                     customer_number=customer.customer_number,
                     details={"challenge_id": row.id, "sent_to": "registered address",
                              "letter_after": (now + LETTER_INTERVAL).isoformat()}, at=now)
        return ("confirmation waits for the next letter to the registered address "
                "(at most one per hour, listing every waiting request)")
    mail_confirmation(session, org, identity, customer, now, newest=case)
    return "confirmation code sent to the registered address"


def mail_confirmation(
    session: Session, org: OrgInfo, identity: IdentityPolicy, customer: Customer,
    now: datetime, *, newest: Case | None = None,
) -> int:
    """One letter with a fresh code for every request of ``customer`` waiting for an unmailed
    challenge (and ``newest``); return how many requests it lists."""
    waiting = _waiting_cases(session, customer, now)
    if newest is not None and all(c.id != newest.id for c in waiting):
        waiting.append(newest)
    if not waiting:
        return 0
    waiting.sort(key=lambda c: c.received_at)
    listed: list[dict[str, Any]] = []
    last: IdentityChallenge | None = None
    for case in waiting:
        row, code = challenges.issue_challenge(session, case, customer, now, settings=identity)
        last = row
        listed.append({"case_id": case.id, "types": list(case.types),
                       "received_at": case.received_at, "code": code,
                       "subject": request_subject(str(case.details.get("subject", "")))})
    anchor = waiting[-1]
    assert last is not None
    sent = send_letter(session, org, anchor, kind="identity_challenge",
                       recipient=challenges.challenge_recipient(customer),
                       context={"code": listed[-1]["code"], "requests": listed,
                                "expires_at": last.expires_at,
                                "ttl_hours": identity.challenge_ttl_hours})
    for case in waiting[:-1]:
        # A reply to the letter ("not me", a code) finds each listed case by the thread too.
        latest = anchor.thread_message_ids[-1] if anchor.thread_message_ids else None
        if latest:
            add_thread_id(session, case, latest, actor=audit.BOT_ACTOR)
    audit.record(session, audit.BOT_ACTOR, "identity.confirmation_letter", case_id=anchor.id,
                 customer_number=customer.customer_number,
                 details={"requests": len(listed), "outbound_id": sent.outbound_id}, at=now)
    return len(listed)


def mail_held_letter(
    session: Session, org: OrgInfo, identity: IdentityPolicy, customer_id: int, now: datetime
) -> bool:
    """Mail ``customer_id``'s held letter if its hour has passed and no other transaction is
    mailing it; True when a letter went out. Commit the session to send it."""
    if not challenge_store.claim_held(session, customer_id, now):
        return False  # none held, or another instance has claimed them and mails the letter
    customer = session.get(Customer, customer_id)
    if customer is None or _mailed_within(session, customer, now):
        return False
    try:
        return bool(mail_confirmation(session, org, identity, customer, now))
    except challenges.ChallengeError:
        return False  # no address any more: the cases wait for staff, who see why


def mail_due_confirmations(
    session: Session, org: OrgInfo, identity: IdentityPolicy, now: datetime
) -> int:
    """Mail the letters held back by the hourly limit whose hour has passed; return how many.
    (One transaction for all; the service gives each customer its own, see
    ``bot.pipeline.mail_held_confirmations``.)"""
    return sum(mail_held_letter(session, org, identity, customer_id, now)
               for customer_id in challenge_store.held_customer_ids(session, now))


def _mailed_within(session: Session, customer: Customer, now: datetime) -> bool:
    rows = session.exec(select(IdentityChallenge.id)
                        .where(col(IdentityChallenge.customer_id) == customer.id)
                        .where(col(IdentityChallenge.code_hash) != PLACEHOLDER)
                        .where(col(IdentityChallenge.created_at) > now - LETTER_INTERVAL)
                        .limit(1)).all()
    return bool(rows)


def _waiting_cases(session: Session, customer: Customer, now: datetime) -> list[Case]:
    """Open cases awaiting identity whose held challenge for ``customer`` this transaction
    claimed (one claimed elsewhere is in another instance's letter)."""
    assert customer.id is not None
    cases: list[Case] = []
    for row in challenge_store.claim_held(session, customer.id, now):
        case = session.get(Case, row.case_id)
        if (case is not None and case.status == CaseStatus.AWAITING_IDENTITY
                and case.verification_level != "verified" and case not in cases):
            cases.append(case)
    return cases
