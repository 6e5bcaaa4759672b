"""Pure case rules: which cases need staff, what blocks approval, where a case goes next.

Plain functions of a case's fields, so the chat, the CLI and the pipeline agree on them and
tests need no database.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from mailformat import DsrbotError
from storage.case_status import CLOSED
from storage.states import CaseStatus

if TYPE_CHECKING:  # the quick console path (bot.cli.quick) uses these rules without the ORM
    from storage.models import Case

#: Identity level that lets personal data go out or the register change (issue 5, rule 5).
VERIFIED = "verified"
#: Request types the privacy notice says must be signed.
#: The types the privacy notice literally asks to be signed (``rights.require_signature`` may
#: restore that rule; the default follows TSV 6097/161/21 and asks for none).
SIGNED_TYPES = frozenset({"access", "rectification"})
#: Signature states that satisfy that rule; "staff_to_check" only when a person approves.
SIGNATURE_OK = frozenset({"valid"})
SIGNATURE_FOR_STAFF = frozenset({"valid", "staff_to_check"})
DEFAULT_AUTO_APPROVE = ("marketing_optout", "publication_ban")
#: Decisions a staff member needs the approver role for.
STAFF_ACTIONS = frozenset({"approve", "refuse", "extend", "assign", "withdraw", "done",
                           "request_information", "intake", "set_received_date",
                           "record_authority", "choose_answer_recipient",
                           "resend", "delivered_another_way"})
MAX_REFERENCES = 100
MAX_SUBJECT_IDS = 5


class CaseError(DsrbotError):
    """A request the case's state or the rules do not allow; the message is for staff."""


@dataclass(frozen=True)
class Decision:
    """What a decision did. ``changed`` is False for a repeated tap that acted already."""

    case_id: str
    action: str
    changed: bool
    status: str
    message: str


# --- pure decisions ------------------------------------------------------------------------------


def needs_staff(types: Collection[str], auto_approve: Collection[str]) -> bool:
    """True unless every requested type may proceed without staff once verified."""
    return not types or not set(types) <= set(auto_approve)


def approval_blockers(
    case: Case, *, by_staff: bool, require_signature: Collection[str] = ()
) -> list[str]:
    """Why this case may not be approved yet (empty when it may).

    A verified identity is enough for every right; a signature is demanded only for the types
    in ``require_signature`` (``rights.require_signature``, see ``handlers.policy.RightsPolicy``).
    """
    blockers = []
    if case.verification_level != VERIFIED or case.customer_id is None:
        blockers.append(f"identity not verified (level: {case.verification_level})")
    signed = set(require_signature) & set(case.types)
    if signed:
        accepted = SIGNATURE_FOR_STAFF if by_staff else SIGNATURE_OK
        if case.signature_state not in accepted:
            blockers.append(f"{', '.join(sorted(signed))} must be signed here "
                            f"(rights.require_signature; signature: {case.signature_state})")
    return blockers


def next_status(
    case: Case, auto_approve: Collection[str], require_signature: Collection[str] = ()
) -> CaseStatus:
    """Where a case goes once its identity and signature are known."""
    if case.verification_level != VERIFIED or case.customer_id is None:
        return CaseStatus.AWAITING_IDENTITY
    if needs_staff(case.types, auto_approve) or approval_blockers(
            case, by_staff=False, require_signature=require_signature):
        return CaseStatus.AWAITING_APPROVAL
    return CaseStatus.APPROVED


def effective_due(case: Case) -> date:
    """The due date that applies now: the extended one once the case is extended."""
    return case.extended_due_date if case.extended and case.extended_due_date else case.due_date


def is_open(case: Case) -> bool:
    return CaseStatus(case.status) not in CLOSED


def actor_name(actor: str) -> str:
    return actor.split(":", 1)[-1]
