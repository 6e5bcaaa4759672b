"""Acting for someone: a lawyer "for my client Ms X, letter of authority enclosed", a relative
with a power of attorney, a guardian (GDPR Art. 12 and 15; EDPB 01/2022 on representatives).

Why these rules: the data subject is the represented person, not the sender, and nobody has
yet seen the authority. So intake flags the case ``on_behalf_of`` with the representative's
address, keeps the authority document with the case (the stored mail is linked to it; its
name and hash are noted for staff) and tells staff "acting for X: authority to be checked".
Until staff record the authority as checked (who, when, which document), nothing personal goes
to the representative: the answer about the data subject goes to the data subject's registered
address. After the check, the representative receives it only when staff choose so explicitly
(:func:`choose_answer_recipient`), and that choice is audited too. A refused authority sends
the representative a neutral letter that says nothing about the person or the register.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from handlers import cases as engine

# The views' half, re-exported under its old names (the case views import it from there).
from handlers.representation_view import CHECKED as CHECKED
from handlers.representation_view import REFUSED as REFUSED
from handlers.representation_view import TO_CHECK as TO_CHECK
from handlers.representation_view import documents as documents
from handlers.representation_view import may_answer_representative as may_answer_representative
from handlers.representation_view import represented_person as represented_person
from handlers.representation_view import staff_note as staff_note
from handlers.representation_view import status_line as status_line
from storage import audit
from storage import cases as store
from storage.models import Case

if TYPE_CHECKING:  # the case views import this module: they must stay light
    from handlers.parse.parsed import Attachment
    from handlers.policy import OrgInfo

OUTCOMES = (CHECKED, REFUSED)
#: Who receives the answer once the authority is checked (default: the data subject).
REPRESENTATIVE = "representative"
SUBJECT = "subject"
#: The neutral letter a representative gets when the authority is refused.
REFUSED_LETTER = "authority_refused"


#: The case's reason (reasons reach the chat unmasked, so it names no one; the case views
#: show the person's name through :func:`status_line`, masked where the channel masks).
REASON = "acting for another person: authority to be checked"


def flag(session: Session, case: Case, *, representative: str, person: str | None,
         words: str, documents: Sequence[Attachment], actor: str = audit.BOT_ACTOR) -> None:
    """Mark a new case as made on behalf of someone; audited (counts only, no names)."""
    case.on_behalf_of = representative.strip()
    case.authority = TO_CHECK
    case.reasons = [*case.reasons, REASON]
    case.details = {**case.details, "representation": {
        "person": person, "words": words[:200],
        "documents": [_document(d) for d in documents]}}
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.on_behalf_of", case_id=case.id, details={
        "documents": len(documents), "person_named": person is not None})


def add_documents(session: Session, case: Case, *, sender: str,
                  documents: Sequence[Attachment], actor: str = audit.BOT_ACTOR) -> int:
    """A follow-up from the representative with attachments (the authority sent afterwards)
    keeps them with the case as well; returns how many were added."""
    if (not case.on_behalf_of or not documents
            or sender.strip().lower() != case.on_behalf_of.strip().lower()):
        return 0
    kept = (case.details.get("representation") or {})
    case.details = {**case.details, "representation": {
        **kept, "documents": [*(kept.get("documents") or []),
                              *(_document(d) for d in documents)]}}
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.authority_document", case_id=case.id,
                 details={"documents": len(documents)})
    return len(documents)


def record_authority(
    session: Session, org: OrgInfo, case: Case, *, outcome: str, document: str, reason: str,
    actor: str, now: datetime,
) -> engine.Decision:
    """Staff record the authority as checked (on a named document) or refuse it; audited.

    A refusal mails the representative the neutral ``authority_refused`` letter.
    """
    if outcome not in OUTCOMES:
        raise engine.CaseError(f"authority is {' or '.join(OUTCOMES)}, not {outcome!r}")
    store.lock_case(session, case)
    if not case.on_behalf_of:
        raise engine.CaseError(f"{case.id}: the requester does not act for someone else")
    if not engine.is_open(case):
        raise engine.CaseError(f"{case.id} is {case.status}; cannot record an authority on a "
                               "closed case")
    why = " ".join(reason.split())[:500]
    doc = " ".join(document.split())[:255]
    if outcome == CHECKED and not doc:
        raise engine.CaseError(f"{case.id}: say which document shows the authority "
                               "(--document NAME)")
    if not why:
        raise engine.CaseError(f"{case.id}: the authority decision needs a reason")
    if case.authority == outcome and (outcome == REFUSED or case.authority_document == doc):
        return engine.Decision(case.id, "authority", False, case.status,
                               f"{case.id}: the authority was already {outcome}")
    case.authority, case.authority_by, case.authority_at = outcome, actor, now
    case.authority_document = doc or None
    if outcome == REFUSED:
        case.answer_to_representative = False
    case.reasons = [*case.reasons, f"authority {outcome}: {why}"]
    case.updated_at = now
    session.add(case)
    session.flush()
    # The audit names the document by its hash when it came with the mail (a file name may
    # carry the person's name); the case row keeps the name for staff.
    known = {d.get("name"): d.get("sha256") for d in documents(case)}
    details: dict[str, Any] = {"outcome": outcome, "document_sha256": known.get(doc),
                               "document_with_mail": doc in known, "reasons": [why]}
    if outcome == REFUSED:
        from handlers.rights.base import send_letter  # letters load Jinja and Babel

        sent = send_letter(session, org, case, kind=REFUSED_LETTER,
                           recipient=case.on_behalf_of, context={}, actor=actor)
        details["outbound_id"] = sent.outbound_id
    audit.record(session, actor, f"case.authority_{outcome}", case_id=case.id,
                 details=details)
    said = (f"checked on {doc}; answers still go to the data subject's registered address"
            if outcome == CHECKED else "refused; the representative is sent a neutral letter")
    return engine.Decision(case.id, "authority", True, case.status,
                           f"{case.id}: authority {said}")


def choose_answer_recipient(
    session: Session, case: Case, *, to: str, reason: str, actor: str, now: datetime,
) -> engine.Decision:
    """Staff's explicit choice of who receives the answer: the representative (only after the
    authority is checked) or the data subject's registered address (the default); audited."""
    if to not in (REPRESENTATIVE, SUBJECT):
        raise engine.CaseError(f"the answer goes to {REPRESENTATIVE} or {SUBJECT}, not {to!r}")
    store.lock_case(session, case)
    if not case.on_behalf_of:
        raise engine.CaseError(f"{case.id}: the requester does not act for someone else")
    if not engine.is_open(case):
        raise engine.CaseError(f"{case.id} is {case.status}; closed")
    if to == REPRESENTATIVE and case.authority != CHECKED:
        raise engine.CaseError(f"{case.id}: check the authority first; until then answers go "
                               "only to the data subject's registered address")
    why = " ".join(reason.split())[:500]
    if not why:
        raise engine.CaseError(f"{case.id}: choosing who gets the answer needs a reason")
    wanted = to == REPRESENTATIVE
    if case.answer_to_representative == wanted:
        return engine.Decision(case.id, "answer_to", False, case.status,
                               f"{case.id}: answers already go to the {_who(wanted)}")
    case.answer_to_representative = wanted
    case.reasons = [*case.reasons, f"answers go to the {_who(wanted)}: {why}"]
    case.updated_at = now
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.answer_recipient", case_id=case.id,
                 details={"to": to, "reasons": [why]})
    return engine.Decision(case.id, "answer_to", True, case.status,
                           f"{case.id}: answers go to the {_who(wanted)}")


def _who(representative: bool) -> str:
    return "representative" if representative else "data subject's registered address"


def _document(attachment: Attachment) -> dict[str, Any]:
    return {"name": attachment.filename or "(unnamed)", "type": attachment.content_type,
            "bytes": len(attachment.data),
            "sha256": hashlib.sha256(attachment.data).hexdigest()}
