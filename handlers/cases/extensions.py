"""Extending a case's deadline by two months (GDPR Art. 12(3)) and the notices that must follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from handlers import deadlines
from handlers.cases.decisions import closed_error
from handlers.cases.rules import CaseError, actor_name, is_open
from storage import audit
from storage import cases as store
from storage.models import Case


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


def extend(
    session: Session,
    case: Case,
    *,
    reason: str,
    actor: str,
    now: datetime,
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
        raise closed_error(case, "extend")
    if case.extended and case.extended_due_date:
        by = actor_name(case.extended_by or "?")
        return _notice(case, tz, changed=False, message=(
            f"{case.id} already extended by {by} until {case.extended_due_date.isoformat()}"))
    if not deadlines.extension_allowed(case.received_at, now, tz=tz):
        raise CaseError(
            f"{case.id}: the first month ended on {case.due_date.isoformat()}; an extension "
            "can only be made within it (GDPR Art. 12(3))")
    case.extended = True
    case.extended_due_date = deadlines.due_date(case.received_at, extended=True, tz=tz)
    case.extension_reason = reason.strip()
    case.reasons = [*case.reasons, f"extended: {case.extension_reason}"]
    case.updated_at = now
    # The notice is owed until someone sends it (see extension_notices_pending).
    case.extended_by, case.extension_notice_pending = actor, True
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
            for c in store.extension_notices_owed(session) if c.extended]


def mark_extension_notified(
    session: Session, case: Case, *, now: datetime, actor: str = audit.BOT_ACTOR
) -> bool:
    """Record that the extension notice is in the outbox; False when it was already."""
    store.lock_case(session, case)
    if not case.extension_notice_pending:
        return False
    case.extension_notice_pending = False
    case.updated_at = now
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
