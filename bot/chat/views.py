"""What the chat shows about a case, read from the database in one short read transaction.

Why a separate snapshot: rendering happens after the session is closed (and far from the event
loop's thread), so everything the renderer needs is copied into plain frozen data here. The
"who decided what" lines come from the case's audit trail, the one record every channel (chat,
console, the bot itself) writes to, so a decision taken on the console shows in the chat too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers.cases.identity_summary import IdentitySummary, identity_summary
from storage import audit
from storage import cases as store
from storage.models import Case, Customer

#: Audit actions that the chat message lists under the case (status changes and staff acts).
HISTORY_ACTIONS = frozenset({
    "case.status", "case.assigned", "case.extended", "case.information_requested",
    "case.authority_checked", "case.authority_refused", "case.answer_recipient",
})
MAX_HISTORY = 12


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class CaseView:
    """A case and the little around it that staff need at a glance."""

    case: Case
    customer_number: str | None
    customer_name: str
    customer_email: str
    history: tuple[HistoryItem, ...]
    identity: IdentitySummary


def load_case_view(session: Session, case_id: str) -> CaseView | None:
    case = store.get_case(session, case_id)
    if case is None:
        return None
    trail = store.case_audit_trail(session, case_id)
    identity = identity_summary(session, case, trail)
    customer = (session.get(Customer, identity.customer_id) if identity.customer_id else None)
    history = [
        HistoryItem(e.at, e.actor, e.action, dict(e.details))
        for e in trail
        if e.action in HISTORY_ACTIONS and _worth_showing(e.actor, e.action, e.details)
    ]
    return CaseView(
        case=case,
        customer_number=identity.customer_number,
        customer_name=" ".join(p for p in (customer.first_name, customer.last_name) if p)
        if customer else "",
        customer_email=customer.email if customer else "",
        history=tuple(history[-MAX_HISTORY:]),
        identity=identity,
    )


def _worth_showing(actor: str, action: str, details: dict[str, Any]) -> bool:
    """Every act of a person; of the bot's own steps only the ones that decide something."""
    if actor != audit.BOT_ACTOR:
        return True
    return action == "case.status" and details.get("to") in ("approved", "refused", "done")
