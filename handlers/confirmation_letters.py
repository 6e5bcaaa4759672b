"""The confirmation letter: at most one per customer per hour, listing every waiting request.

Why not a daily cap (issue 21, item 5): forged requests in a customer's name must not stop her
own from being confirmed the same day. Every request gets its own code, so confirming one never
confirms another; the letter names what each code confirms (request types, when it was received,
its subject line) and how to say "not me". When a letter went to the customer within the hour,
the new request waits with an unmailed placeholder challenge (empty hash, so it can never match)
and :func:`mail_due_confirmations` sends the next letter once the hour has passed, listing every
request still waiting, each with a fresh code.
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
PLACEHOLDER = ""


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
        challenge_store.create(
            session, case_id=case.id, customer_id=customer.id, code_hash=PLACEHOLDER,
            expires_at=now + timedelta(hours=identity.challenge_ttl_hours),
            max_attempts=identity.challenge_max_attempts, now=now)
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


def mail_due_confirmations(
    session: Session, org: OrgInfo, identity: IdentityPolicy, now: datetime
) -> int:
    """Mail the letters held back by the hourly limit whose hour has passed; return how many."""
    ids = session.exec(select(IdentityChallenge.customer_id)
                       .where(col(IdentityChallenge.code_hash) == PLACEHOLDER)
                       .where(col(IdentityChallenge.consumed_at).is_(None))
                       .where(col(IdentityChallenge.expires_at) > now)).all()
    letters = 0
    for customer_id in sorted(set(ids)):
        customer = session.get(Customer, customer_id)
        if customer is None or _mailed_within(session, customer, now):
            continue
        try:
            if mail_confirmation(session, org, identity, customer, now):
                letters += 1
        except challenges.ChallengeError:
            continue  # no address any more: the cases wait for staff, who see why
    return letters


def _mailed_within(session: Session, customer: Customer, now: datetime) -> bool:
    rows = session.exec(select(IdentityChallenge.id)
                        .where(col(IdentityChallenge.customer_id) == customer.id)
                        .where(col(IdentityChallenge.code_hash) != PLACEHOLDER)
                        .where(col(IdentityChallenge.created_at) > now - LETTER_INTERVAL)
                        .limit(1)).all()
    return bool(rows)


def _waiting_cases(session: Session, customer: Customer, now: datetime) -> list[Case]:
    """Open cases awaiting identity whose newest challenge for ``customer`` was never mailed."""
    rows = session.exec(select(IdentityChallenge)
                        .where(col(IdentityChallenge.customer_id) == customer.id)
                        .where(col(IdentityChallenge.code_hash) == PLACEHOLDER)
                        .where(col(IdentityChallenge.consumed_at).is_(None))
                        .where(col(IdentityChallenge.expires_at) > now)).all()
    cases: list[Case] = []
    for row in rows:
        case = session.get(Case, row.case_id)
        if (case is not None and case.status == CaseStatus.AWAITING_IDENTITY
                and case.verification_level != "verified" and case not in cases):
            cases.append(case)
    return cases
