"""The case engine: open a case, join follow-ups to it, take the decisions on it.

Why it is shaped like this:

* One case per request, and every change to it is a checked status transition or a flagged
  field change, audited with who did it and why, in the caller's transaction.
* A follow-up joins its case through the mail thread (In-Reply-To/References against the
  request's own Message-ID and our letters' Message-IDs). A case id typed into a subject joins
  only when the sender *is* the case's requester and this mail proves it: otherwise a stranger
  who guesses ``DSR-2026-0001`` could slip mail, and later answers, into someone else's case.
* Decisions are idempotent where a double tap in a chat must act once: approving an approved
  case reports who approved it, without a second audit entry. Each decision re-reads the case
  under a row lock first, so two taps racing on PostgreSQL still act once.
* Approval is the last gate before personal data leaves or the register changes, so it refuses
  a case whose requester is not verified, or an access/rectification request without a
  signature (the privacy notice requires one), whoever asks.

Pure decisions (``needs_staff``, ``next_status``, ``approval_blockers``, ``staff_denial``, the
header parsing) are plain functions; the rest wrap :mod:`storage.cases`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlmodel import Session

from handlers import deadlines
from mailformat import UnsafeValue
from mailformat.message_id import MAX_MESSAGE_ID, message_ids
from mailformat.message_id import normalise_message_id as mailformat_normalise
from storage import audit, outbox
from storage import cases as store
from storage.case_status import CLOSED, TransitionError
from storage.models import Case, CaseStatus, StaffRole

#: Identity level that lets personal data go out or the register change (issue 5, rule 5).
VERIFIED = "verified"
#: Request types the privacy notice says must be signed.
SIGNED_TYPES = frozenset({"access", "rectification"})
#: Signature states that satisfy that rule; "staff_to_check" only when a person approves.
SIGNATURE_OK = frozenset({"valid"})
SIGNATURE_FOR_STAFF = frozenset({"valid", "staff_to_check"})
DEFAULT_AUTO_APPROVE = ("marketing_optout", "publication_ban")
#: Decisions a staff member needs the approver role for.
STAFF_ACTIONS = frozenset({"approve", "refuse", "extend", "assign", "withdraw", "done",
                           "request_information", "intake"})
MAX_REFERENCES = 100
MAX_SUBJECT_IDS = 5

_CASE_ID = re.compile(r"(?<![A-Za-z0-9])DSR-(\d{4})-(\d{4,6})(?![0-9])", re.IGNORECASE)


class CaseError(Exception):
    """A request the case's state or the rules do not allow; the message is for staff."""


@dataclass(frozen=True)
class Decision:
    """What a decision did. ``changed`` is False for a repeated tap that acted already."""

    case_id: str
    action: str
    changed: bool
    status: str
    message: str


@dataclass(frozen=True)
class ExtensionNotice:
    """What the extension letter needs. Send it only when ``changed`` (a repeat sends nothing)."""

    case_id: str
    changed: bool
    requester: str
    language: str
    customer_id: int | None
    received_on: date
    due_date: date
    extended_due_date: date
    reason: str
    #: For In-Reply-To/References of the letter: the request's and our earlier letters' ids.
    thread_message_ids: tuple[str, ...]
    message: str


class StaffEntry(Protocol):
    """A configured staff member (``settings.chat.staff`` items fit this)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class StaffCheck:
    allowed: bool
    actor: str
    message: str


# --- pure decisions ------------------------------------------------------------------------------


def needs_staff(types: Collection[str], auto_approve: Collection[str]) -> bool:
    """True unless every requested type may proceed without staff once verified."""
    return not types or not set(types) <= set(auto_approve)


def approval_blockers(case: Case, *, by_staff: bool) -> list[str]:
    """Why this case may not be approved yet (empty when it may)."""
    blockers = []
    if case.verification_level != VERIFIED or case.customer_id is None:
        blockers.append(f"identity not verified (level: {case.verification_level})")
    if SIGNED_TYPES & set(case.types):
        accepted = SIGNATURE_FOR_STAFF if by_staff else SIGNATURE_OK
        if case.signature_state not in accepted:
            blockers.append(f"access and rectification requests must be signed "
                            f"(signature: {case.signature_state})")
    return blockers


def next_status(case: Case, auto_approve: Collection[str]) -> CaseStatus:
    """Where a case goes once its identity and signature are known."""
    if case.verification_level != VERIFIED or case.customer_id is None:
        return CaseStatus.AWAITING_IDENTITY
    if needs_staff(case.types, auto_approve) or approval_blockers(case, by_staff=False):
        return CaseStatus.AWAITING_APPROVAL
    return CaseStatus.APPROVED


def effective_due(case: Case) -> date:
    """The due date that applies now: the extended one once the case is extended."""
    return case.extended_due_date if case.extended and case.extended_due_date else case.due_date


def is_open(case: Case) -> bool:
    return CaseStatus(case.status) not in CLOSED


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


def staff_denial(role: str | None, active: bool, action: str) -> str | None:
    """Why a person may not take ``action`` (None when they may): unknown, inactive or viewer."""
    if role is None:
        return "unknown"
    if not active:
        return "inactive"
    if action in STAFF_ACTIONS and role != StaffRole.APPROVER.value:
        return "not_approver"
    return None


def _actor_name(actor: str) -> str:
    return actor.split(":", 1)[-1]


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


# --- identity and routing ------------------------------------------------------------------------


def record_identity(
    session: Session,
    case: Case,
    *,
    verification_level: str,
    signature_state: str,
    customer_id: int | None,
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
    case.updated_at = datetime.now(UTC)
    session.add(case)
    session.flush()
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
) -> Decision:
    """Move an open case to where :func:`next_status` says (approving only auto-approve types)."""
    store.lock_case(session, case)
    if not is_open(case) or case.status == CaseStatus.APPROVED:
        return Decision(case.id, "advance", False, case.status, f"{case.id} is {case.status}")
    target = next_status(case, auto_approve)
    if target.value == case.status:
        return Decision(case.id, "advance", False, case.status, f"{case.id} is {case.status}")
    if target is CaseStatus.APPROVED:
        return _approve_locked(session, case, actor=actor,
                               reasons=[*reasons, "auto-approved type"], by_staff=False)
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


def _set_detail(case: Case, **values: object) -> None:
    # A new dict, so SQLAlchemy sees the JSON column change.
    case.details = {**case.details, **values}


def _closed_error(case: Case, action: str) -> CaseError:
    return CaseError(f"{case.id} is {case.status}; cannot {action} a closed case")


def approve(
    session: Session, case: Case, *, actor: str, reasons: Sequence[str] = ()
) -> Decision:
    """Approve once. A repeat reports who approved; a blocked case raises :class:`CaseError`."""
    store.lock_case(session, case)
    return _approve_locked(session, case, actor=actor, reasons=list(reasons),
                           by_staff=actor != audit.BOT_ACTOR)


def _approve_locked(
    session: Session, case: Case, *, actor: str, reasons: list[str], by_staff: bool
) -> Decision:
    if case.status in (CaseStatus.APPROVED, CaseStatus.DONE):
        by = _actor_name(str(case.details.get("approved_by", "?")))
        return Decision(case.id, "approve", False, case.status,
                        f"{case.id} already approved by {by}")
    if not is_open(case):
        raise _closed_error(case, "approve")
    blockers = approval_blockers(case, by_staff=by_staff)
    if blockers:
        raise CaseError(f"{case.id} cannot be approved: {'; '.join(blockers)}")
    if by_staff and case.signature_state == "staff_to_check" and SIGNED_TYPES & set(case.types):
        reasons = [*reasons, "signature checked by staff"]
    _set_detail(case, approved_by=actor)
    _transition(session, case, CaseStatus.APPROVED, actor=actor, reasons=reasons)
    return Decision(case.id, "approve", True, case.status,
                    f"{case.id} approved by {_actor_name(actor)}")


def refuse(
    session: Session, case: Case, *, reason: str, actor: str
) -> Decision:
    """Refuse with a reason (the refusal letter states it). A repeat reports who refused."""
    if not reason.strip():
        raise CaseError("a refusal needs a reason (the requester is told it)")
    store.lock_case(session, case)
    if case.status == CaseStatus.REFUSED:
        by = _actor_name(str(case.details.get("refused_by", "?")))
        return Decision(case.id, "refuse", False, case.status, f"{case.id} already refused by {by}")
    if not is_open(case):
        raise _closed_error(case, "refuse")
    _set_detail(case, refused_by=actor, refusal_reason=reason.strip())
    _transition(session, case, CaseStatus.REFUSED, actor=actor, reasons=[reason.strip()])
    return Decision(case.id, "refuse", True, case.status,
                    f"{case.id} refused by {_actor_name(actor)}")


def withdraw(
    session: Session, case: Case, *, actor: str, reasons: Sequence[str] = ()
) -> Decision:
    """The requester takes the request back (possible until the answer is done)."""
    store.lock_case(session, case)
    if case.status == CaseStatus.WITHDRAWN:
        return Decision(case.id, "withdraw", False, case.status, f"{case.id} already withdrawn")
    if not is_open(case):
        raise _closed_error(case, "withdraw")
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
    session: Session, case: Case, *, staff: str, actor: str
) -> Decision:
    """Give the case to a staff member (who then sees it as theirs)."""
    store.lock_case(session, case)
    if case.assignee == staff:
        return Decision(case.id, "assign", False, case.status,
                        f"{case.id} already assigned to {staff}")
    if not is_open(case):
        raise _closed_error(case, "assign")
    before = case.assignee
    case.assignee = staff
    case.updated_at = datetime.now(UTC)
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.assigned", case_id=case.id,
                 details={"from": before, "to": staff})
    return Decision(case.id, "assign", True, case.status, f"{case.id} assigned to {staff}")


def extend(
    session: Session,
    case: Case,
    *,
    reason: str,
    actor: str,
    now: datetime | None = None,
    tz: str = deadlines.DEFAULT_TZ,
) -> ExtensionNotice:
    """Extend by two months (GDPR Art. 12(3)), only while the first month runs.

    The caller sends the requester the notice with the reason, in the same transaction, when
    ``changed`` is True.
    """
    if not reason.strip():
        raise CaseError("an extension needs a reason (the requester is told it)")
    store.lock_case(session, case)
    if not is_open(case):
        raise _closed_error(case, "extend")
    if case.extended and case.extended_due_date:
        by = _actor_name(str(case.details.get("extended_by", "?")))
        return _notice(case, tz, changed=False, message=(
            f"{case.id} already extended by {by} until {case.extended_due_date.isoformat()}"))
    moment = now or datetime.now(UTC)
    if not deadlines.extension_allowed(case.received_at, moment, tz=tz):
        raise CaseError(
            f"{case.id}: the first month ended on {case.due_date.isoformat()}; an extension "
            "can only be made within it (GDPR Art. 12(3))")
    case.extended = True
    case.extended_due_date = deadlines.due_date(case.received_at, extended=True, tz=tz)
    case.extension_reason = reason.strip()
    case.reasons = [*case.reasons, f"extended: {case.extension_reason}"]
    case.updated_at = datetime.now(UTC)
    # The notice is owed until someone sends it (see extension_notices_pending).
    _set_detail(case, extended_by=actor, extension_notice="pending")
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.extended", case_id=case.id, details={
        "due_date": case.due_date.isoformat(),
        "extended_due_date": case.extended_due_date.isoformat(),
        "reasons": [case.extension_reason]})
    return _notice(case, tz, changed=True, message=(
        f"{case.id} extended until {case.extended_due_date.isoformat()}"))


def extension_notices_pending(session: Session, *, tz: str = deadlines.DEFAULT_TZ
                              ) -> list[ExtensionNotice]:
    """Extensions whose notice to the requester has not been sent yet (e.g. made on the console).

    The sender writes the letter to the outbox and calls :func:`mark_extension_notified` in the
    same transaction, so a notice is neither lost nor sent twice.
    """
    return [_notice(c, tz, changed=True, message=f"{c.id} extension notice pending")
            for c in store.open_cases(session)
            if c.extended and c.details.get("extension_notice") == "pending"]


def mark_extension_notified(
    session: Session, case: Case, *, actor: str = audit.BOT_ACTOR
) -> bool:
    """Record that the extension notice is in the outbox; False when it was already."""
    store.lock_case(session, case)
    if case.details.get("extension_notice") != "pending":
        return False
    _set_detail(case, extension_notice="sent")
    case.updated_at = datetime.now(UTC)
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.extension_notified", case_id=case.id, details={})
    return True


def _notice(case: Case, tz: str, *, changed: bool, message: str) -> ExtensionNotice:
    assert case.extended_due_date is not None
    return ExtensionNotice(
        case_id=case.id, changed=changed, requester=case.requester, language=case.language,
        customer_id=case.customer_id, received_on=deadlines.local_date(case.received_at, tz),
        due_date=case.due_date, extended_due_date=case.extended_due_date,
        reason=case.extension_reason or "", thread_message_ids=tuple(case.thread_message_ids),
        message=message)


#: Subject of a question to the requester, in the case's language.
INFORMATION_SUBJECTS = {
    "fi": "Lisätietoja tarvitaan pyyntöönne",
    "en": "We need more information about your request",
    "sv": "Vi behöver mer information om er begäran",
}


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
        raise _closed_error(case, "ask about")
    thread = list(case.thread_message_ids)
    try:
        row = outbox.enqueue(
            session, kind="information_request", recipient=case.requester,
            subject=INFORMATION_SUBJECTS.get(case.language, INFORMATION_SUBJECTS["en"]),
            body_text=question, domain=domain, case_id=case.id,
            in_reply_to=thread[0] if thread else None, references=thread, actor=actor)
    except UnsafeValue as exc:
        raise CaseError(f"{case.id}: the requester has no usable email address ({exc}); "
                        "please contact them by post or phone") from exc
    add_thread_id(session, case, row.message_id, actor=actor)
    audit.record(session, actor, "case.information_requested", case_id=case.id,
                 details={"outbound_id": row.id, "chars": len(question)})
    return Decision(case.id, "request_information", True, case.status,
                    f"{case.id}: question mailed to the requester")


# --- who may decide ------------------------------------------------------------------------------


def authorise_staff(
    session: Session,
    name: str,
    configured: Sequence[StaffEntry],
    *,
    action: str,
    case_id: str | None = None,
) -> StaffCheck:
    """May ``name`` take ``action``? The Staff table first, then ``chat.staff`` from settings.

    A refusal is audited (in the caller's transaction, which should commit it) so attempts by
    viewers or unknown names show in the trail.
    """
    name = name.strip()
    actor = audit.staff_actor(name[:100])
    row = store.staff_by_name(session, name) if name else None
    if row is not None:
        role: str | None = row.role
        active = row.active
    else:
        match = next((s for s in configured if s.name == name), None) if name else None
        role, active = (match.role if match else None), True
    denial = staff_denial(role, active, action)
    if denial is None:
        return StaffCheck(True, actor, "")
    audit.record(session, actor, "case.denied", case_id=case_id,
                 details={"attempted": action, "reason": denial})
    message = {
        "unknown": f"{name or '(no name)'} is not a staff member; nothing was changed",
        "inactive": f"{name} is not an active staff member; nothing was changed",
        "not_approver": f"{name} is a {role}; only an approver may {action}; nothing was changed",
    }[denial]
    return StaffCheck(False, actor, message)


# --- queries -------------------------------------------------------------------------------------


def open_cases(session: Session) -> list[Case]:
    """Cases not closed, soonest due first."""
    return store.open_cases(session)


def due_within(session: Session, days: int, today: date) -> list[Case]:
    """Open cases due from ``today`` to ``today + days`` calendar days (both included)."""
    return store.open_cases_due_between(session, today, today + timedelta(days=days))


def overdue(session: Session, today: date) -> list[Case]:
    """Open cases whose applicable due date has passed."""
    return store.open_cases_due_before(session, today)
