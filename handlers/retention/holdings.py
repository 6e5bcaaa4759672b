"""What an access report says about dsrbot's own records of the requester (GDPR Art. 15).

Her earlier requests to us and our answers are data about her, and so is the mail she sent
that we keep for a while: the report lists her earlier requests (case ids, dates, types,
outcomes) and each category of our records with how many we hold and how long each is kept
(``retention.*``). Language-neutral, like the rest of the report: the letter templates word it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from handlers.policy import RecordRetention
from storage.case_status import CLOSED
from storage.models import (
    Case,
    CaseStatus,
    Customer,
    InboundMessage,
    OutboundAttachment,
    OutboundMessage,
)


def _outcome(status: str) -> str:
    return status if CaseStatus(status) in CLOSED else "open"


def _cases(session: Session, customer: Customer) -> list[Case]:
    """Her cases: matched to her record, or written from her registered address."""
    who = [col(Case.customer_id) == customer.id]
    if customer.email_normalised:
        who.append(func.lower(col(Case.requester)) == customer.email_normalised)
    stmt = select(Case).where(or_(*who)).order_by(col(Case.received_at), col(Case.id))
    return list(session.exec(stmt).all())


def _count(session: Session, stmt: Any) -> int:
    return int(session.exec(stmt).one())


def own_holdings(session: Session, customer: Customer, records: RecordRetention, *,
                 current_case: str | None = None) -> dict[str, Any]:
    """``{"earlier_requests": [...], "categories": [...]}`` for the access report."""
    cases = _cases(session, customer)
    ids = [c.id for c in cases]
    earlier = [{"case_id": c.id, "received": c.received_at, "closed": c.closed_at,
                "types": list(c.types), "outcome": _outcome(c.status)}
               for c in cases if c.id != current_case]
    mail = select(func.count()).select_from(InboundMessage).where(
        col(InboundMessage.purged_at).is_(None), col(InboundMessage.case_id).is_(None),
        col(InboundMessage.from_address) == (customer.email_normalised or "\x00"))
    files = (select(func.count()).select_from(OutboundAttachment)
             .join(OutboundMessage, col(OutboundAttachment.outbound_id) == col(OutboundMessage.id))
             .where(col(OutboundMessage.case_id).in_(ids or [""]),
                    col(OutboundAttachment.purged_at).is_(None)))
    return {
        "earlier_requests": earlier,
        "categories": [
            {"kind": "cases", "count": len(cases), "years": records.case_years},
            {"kind": "other_mail", "count": _count(session, mail),
             "days": records.other_mail_days},
            {"kind": "report_files", "count": _count(session, files),
             "days": records.report_attachments_days},
        ],
    }
