"""The rights of the privacy notice, one handler each: ``propose`` what to do, then ``carry_out``.

Use::

    handlers = make_handlers(org_info(settings), SystemClock())   # both from bot/
    proposal = handlers[right].propose(session, case, customer, extracted)
    ...  # staff approve, or approval.auto_approve allows it (unless proposal.needs_staff)
    outcome = handlers[right].carry_out(session, case, customer, proposal, actor)

``carry_out`` changes the register, writes audit entries attributed to ``actor`` and puts the
letters in the outbox, all in the caller's transaction; it raises :class:`RightsError` (nothing
changed) when the requester is not the verified owner of the record. Closing the case
(``handlers.cases.mark_done``/``refuse``) stays with the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from sqlmodel import Session

from handlers.clock import Clock
from handlers.policy import RightsPolicy
from handlers.rights.access import AccessHandler
from handlers.rights.base import (
    Hold,
    OrgInfo,
    Outcome,
    Proposal,
    Reason,
    RightHandler,
    RightsError,
    SentLetter,
    send_letter,
    send_refusal,
)
from handlers.rights.erasure import ErasureHandler
from handlers.rights.marketing import MarketingOptOutHandler
from handlers.rights.objection import ObjectionHandler, decide
from handlers.rights.portability import PortabilityHandler
from handlers.rights.publication import PublicationBanHandler
from handlers.rights.rectification import RectificationHandler
from handlers.rights.restriction import RestrictionHandler
from storage import audit
from storage.models import Case, Customer


def make_handlers(
    org: OrgInfo, clock: Clock, rights: RightsPolicy | None = None
) -> Mapping[str, RightHandler]:
    """One handler per request type (the names ``approval.auto_approve`` uses), all reading
    the time from ``clock``; ``rights`` says which types must also be signed."""
    kinds = (AccessHandler, PortabilityHandler, RectificationHandler, ErasureHandler,
             RestrictionHandler, ObjectionHandler, MarketingOptOutHandler, PublicationBanHandler)
    handlers: list[RightHandler] = [kind(org, clock, rights) for kind in kinds]
    return MappingProxyType({h.right: h for h in handlers})

#: The order in which one case's rights are carried out. Access and portability report the
#: register as it stood when the person asked, to the address they were verified at; changes
#: come after them, and erasure last (after it there is nothing left to report or change).
EXECUTION_ORDER: tuple[str, ...] = (
    "access", "portability", "rectification", "restriction", "objection", "marketing_optout",
    "publication_ban", "erasure",
)


def in_execution_order(types: Sequence[str]) -> list[str]:
    """``types`` sorted by :data:`EXECUTION_ORDER` (unknown types last, in their order)."""
    rank = {right: index for index, right in enumerate(EXECUTION_ORDER)}
    return sorted(dict.fromkeys(types), key=lambda t: rank.get(t, len(rank)))


def refuse_request(
    session: Session,
    case: Case,
    customer: Customer | None,
    *,
    org: OrgInfo,
    right: str,
    actor: str,
    now: datetime,
    reasons: Sequence[Reason] = (),
    note: str | None = None,
) -> SentLetter:
    """The refusal certificate after a staff refusal (``handlers.cases.refuse``).

    Staff's own words go in ``note`` and are listed under the certificate's reasons (in
    whatever language staff wrote). Only a refusal with neither gets the generic
    "the person responsible decided to refuse".
    """
    reasons = list(reasons) or ([] if note else [Reason("staff_decision")])
    letter = send_refusal(session, org, case, customer, right=right, reasons=reasons,
                          actor=actor, note=note, now=now)
    audit.record(session, actor, "rights.refused", case_id=case.id,
                 customer_number=customer.customer_number if customer else None,
                 details={"right": right, "reasons": [r.code for r in reasons],
                          "outbound_id": letter.outbound_id, "kind": letter.kind})
    return letter


def send_extension_notice(
    session: Session,
    case: Case,
    *,
    org: OrgInfo,
    actor: str,
    note: str | None = None,
    reason_codes: Sequence[str] = (),
) -> SentLetter:
    """Tell the requester the answer takes longer (GDPR Art. 12(3)), with the reasons.

    Call it after ``handlers.cases.extend`` changed the case. ``reason_codes`` are
    ``complexity`` / ``number_of_requests`` (worded in the letter's language); ``note`` is
    staff's own reason, quoted as written. It goes to the requester in the case's thread and
    says nothing from the register, like the receipt.
    """
    if case.extended_due_date is None:
        raise RightsError(f"{case.id} has not been extended")
    return send_letter(session, org, case, kind="extension", recipient=case.requester,
                       actor=actor, context={"original_due_date": case.due_date,
                                             "due_date": case.extended_due_date,
                                             "reason_codes": list(reason_codes),
                                             "note": note})


def send_neutral_reply(session: Session, case: Case, *, org: OrgInfo, actor: str) -> SentLetter:
    """The reply that reveals nothing (not even whether the sender is a customer)."""
    return send_letter(session, org, case, kind="neutral", recipient=case.requester,
                       context={}, actor=actor)


__all__ = [
    "EXECUTION_ORDER",
    "Hold",
    "OrgInfo",
    "Outcome",
    "Proposal",
    "Reason",
    "RightHandler",
    "RightsError",
    "SentLetter",
    "decide",
    "in_execution_order",
    "make_handlers",
    "refuse_request",
    "send_extension_notice",
    "send_neutral_reply",
]
