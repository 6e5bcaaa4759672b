"""Opening a case and joining follow-ups to it through the mail thread.

A case id typed into a subject joins only when the sender *is* the case's requester and the
mail proves it: otherwise a stranger who guesses ``DSR-2026-0001`` could slip mail, and later
answers, into someone else's case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session

from handlers import deadlines
from handlers.cases.rules import MAX_REFERENCES, MAX_SUBJECT_IDS, CaseError
from mailformat.message_id import MAX_MESSAGE_ID, message_ids
from mailformat.message_id import normalise_message_id as mailformat_normalise
from storage import audit
from storage import cases as store
from storage.models import Case

_CASE_ID = re.compile(r"(?<![A-Za-z0-9])DSR-(\d{4})-(\d{4,6})(?![0-9])", re.IGNORECASE)


def normalise_message_id(value: str) -> str | None:
    """``<id>`` form of one Message-ID (``mailformat``'s normaliser), or None when there is none
    or it is too long to be one."""
    found = mailformat_normalise(value)
    return found if found and len(found) <= MAX_MESSAGE_ID else None


def message_ids_in(value: str) -> list[str]:
    """Every Message-ID in an In-Reply-To or References header value, in order."""
    found = [m for m in message_ids(value) if len(m) <= MAX_MESSAGE_ID]
    if found:
        return found
    single = normalise_message_id(value)
    return [single] if single else []


def case_ids_in_subject(subject: str) -> list[str]:
    """Case ids written in a subject, ``[DSR-2026-0001]`` or bare, in order of appearance."""
    return list(dict.fromkeys(f"DSR-{y}-{n}" for y, n in _CASE_ID.findall(subject)))


def normalise_address(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


# --- opening and threading -----------------------------------------------------------------------


def open_case(
    session: Session,
    *,
    types: Sequence[str],
    requester: str,
    language: str,
    received_at: datetime,
    channel: str = "email",
    customer_id: int | None = None,
    reasons: Sequence[str] = (),
    inbound_message_id: int | None = None,
    thread_ids: Iterable[str] = (),
    actor: str = audit.BOT_ACTOR,
    tz: str = deadlines.DEFAULT_TZ,
) -> Case:
    """Open one case for one request; its due date follows :mod:`handlers.deadlines`.

    ``inbound_message_id`` is the stored InboundMessage row id (linked to the case);
    ``thread_ids`` are Message-IDs that belong to this case's thread: pass the request's own
    Message-ID, never its References (those may name other people's threads).
    """
    if received_at.tzinfo is None:
        raise CaseError("received_at must be timezone-aware")
    case = store.create_case(
        session, types=list(types), requester=requester.strip(), language=language,
        received_at=received_at, due_date=deadlines.due_date(received_at, tz=tz),
        channel=channel, customer_id=customer_id, reasons=list(reasons), actor=actor,
        case_year=deadlines.local_date(received_at, tz).year,
    )
    for message_id in thread_ids:  # part of the creation that is audited already
        add_thread_id(session, case, message_id, actor=actor, audited=False)
    if inbound_message_id is not None and not store.link_inbound(
            session, inbound_message_id, case.id):
        raise CaseError(f"inbound message {inbound_message_id} does not exist")
    return case


def add_thread_id(
    session: Session, case: Case, message_id: str, *, actor: str = audit.BOT_ACTOR,
    audited: bool = True,
) -> bool:
    """Make replies to ``message_id`` (the request, or a letter we sent) join this case.

    Returns False when the id is unusable or already in the thread. The audit entry counts ids;
    the id itself stays out of the log (Message-IDs can carry addresses).
    """
    normalised = normalise_message_id(message_id)
    if normalised is None or not store.add_thread_ref(session, case, normalised):
        return False
    if audited:
        audit.record(session, actor, "case.thread", case_id=case.id,
                     details={"thread_ids": len(case.thread_message_ids)})
    return True


def find_case_for_followup(
    session: Session,
    *,
    in_reply_to: str,
    references: Sequence[str],
    subject: str,
    sender: str,
    sender_verified: bool,
) -> Case | None:
    """The case a follow-up mail belongs to, or None (then it is a new request).

    The thread decides first: In-Reply-To, then References from the newest. A case id in the
    subject counts only when ``sender`` is the case's requester and ``sender_verified`` says this
    mail proves the sender owns that address. A closed case is returned too; the caller decides
    (a closed case never reopens).
    """
    wanted = message_ids_in(in_reply_to)
    for ref in reversed(references[-MAX_REFERENCES:]):
        wanted.extend(message_ids_in(ref))
    wanted = list(dict.fromkeys(wanted))[:MAX_REFERENCES]
    if wanted:
        hits: dict[str, Case] = {}
        for message_id, case in store.cases_by_thread_ids(session, wanted):
            hits.setdefault(message_id, case)
        for message_id in wanted:
            if message_id in hits:
                return hits[message_id]
    if not sender_verified or not sender.strip():
        return None
    for case_id in case_ids_in_subject(subject)[:MAX_SUBJECT_IDS]:
        named = store.get_case(session, case_id)
        if named is not None and normalise_address(named.requester) == normalise_address(sender):
            return named
    return None


def case_named_by_reminder(
    session: Session, *, subject: str, text: str, sender: str, max_chars: int = 20_000,
) -> Case | None:
    """The open or closed case a reminder names by id, in its subject or its text (a quoted
    receipt), when the reminder comes from that case's requester; else None.

    Why without proof of the address, unlike :func:`find_case_for_followup`: the caller joins a
    reminder only to record it (the claim and the mail, for staff), never to take a code or a
    "not me" from it, so a forged reminder adds a note where it would otherwise have opened a
    second case and sent a second receipt.
    """
    if not sender.strip():
        return None
    named = [*case_ids_in_subject(subject), *case_ids_in_subject(text[:max_chars])]
    for case_id in list(dict.fromkeys(named))[:MAX_SUBJECT_IDS]:
        case = store.get_case(session, case_id)
        if case is not None and normalise_address(case.requester) == normalise_address(sender):
            return case
    return None


def attach_followup(
    session: Session,
    case: Case,
    *,
    message_id: str,
    inbound_message_id: int | None = None,
    reasons: Sequence[str] = (),
    actor: str = audit.BOT_ACTOR,
) -> None:
    """Record a follow-up on its case: link the stored mail, and thread replies to it."""
    if inbound_message_id is not None and not store.link_inbound(
            session, inbound_message_id, case.id):
        raise CaseError(f"inbound message {inbound_message_id} does not exist")
    add_thread_id(session, case, message_id, actor=actor)
    audit.record(session, actor, "case.followup", case_id=case.id,
                 details={"inbound_message_id": inbound_message_id, "reasons": list(reasons)})
