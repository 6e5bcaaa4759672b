"""Builders for the rights tests: a customer with orders, invoices, provenance and disclosures,
a case whose requester is (or is not) verified, and readers for what reached the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.clock import SystemClock
from handlers.rights import OrgInfo, make_handlers
from storage.cases import create_case
from storage.db import Database
from storage.models import (
    AuditEntry,
    Case,
    Customer,
    Disclosure,
    FieldProvenance,
    Invoice,
    Order,
    OutboundAttachment,
    OutboundMessage,
    Party,
)
from storage.register import party_by_name
from tests import factories

ORG = OrgInfo()
HANDLERS = make_handlers(ORG, SystemClock())
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def add_customer(session: Session, number: str = "100001", **overrides: Any) -> Customer:
    """A customer with every register field filled (:func:`tests.factories.full_record`)."""
    return factories.add_customer(session, number, at=NOW, **{
        **factories.full_record(number),
        "source_party_id": party_by_name(session, "customer").id, **overrides})


def add_party(session: Session, name: str, kind: str, contact_email: str | None) -> Party:
    party = Party(name=name, kind=kind, contact_email=contact_email)
    session.add(party)
    session.flush()
    return party


def add_order(session: Session, customer: Customer, number: str, *, amount: int = 12990,
              when: date = date(2025, 11, 3), description: str = "Porakone") -> Order:
    assert customer.id is not None
    order = Order(order_number=number, customer_id=customer.id, ordered_at=when,
                  description=description, amount_cents=amount)
    session.add(order)
    session.flush()
    return order


def add_invoice(session: Session, customer: Customer, number: str, *, status: str = "paid",
                order: Order | None = None, issued: date = date(2025, 11, 4),
                amount: int = 12990) -> Invoice:
    assert customer.id is not None
    invoice = Invoice(invoice_number=number, customer_id=customer.id,
                      order_id=order.id if order else None, issued_at=issued,
                      due_date=date(issued.year, issued.month, min(issued.day + 14, 28)),
                      amount_cents=amount, status=status)
    session.add(invoice)
    session.flush()
    return invoice


def add_provenance(session: Session, customer: Customer, field: str, party: Party) -> None:
    assert customer.id is not None and party.id is not None
    session.add(FieldProvenance(customer_id=customer.id, field=field, party_id=party.id,
                                obtained_at=NOW))
    session.flush()


def add_disclosure(session: Session, customer: Customer, party: Party, fields: list[str],
                   purpose: str) -> None:
    assert customer.id is not None and party.id is not None
    session.add(Disclosure(customer_id=customer.id, party_id=party.id, fields=fields,
                           purpose=purpose, disclosed_at=NOW))
    session.flush()


def open_case(session: Session, customer: Customer | None, types: list[str], *,
              language: str = "fi", verified: bool = True, signature: str = "valid",
              requester: str | None = None) -> Case:
    case = create_case(
        session, types=types, language=language, received_at=NOW, due_date=date(2026, 4, 2),
        requester=requester or (customer.email if customer else "someone@example.org"),
        customer_id=customer.id if customer else None)
    case.verification_level = "verified" if verified else "claimed"
    case.signature_state = signature
    case.thread_message_ids = ["<request-1@example.fi>"]
    session.add(case)
    session.flush()
    return case


@dataclass(frozen=True)
class Sent:
    kind: str
    recipient: str
    subject: str
    text: str
    html: str | None
    attachments: dict[str, bytes]
    in_reply_to: str | None


def outbox(db: Database) -> list[Sent]:
    with db.read_session() as s:
        rows = s.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))).all()
        out = []
        for row in rows:
            files = s.exec(select(OutboundAttachment)
                           .where(OutboundAttachment.outbound_id == row.id)
                           .order_by(col(OutboundAttachment.position))).all()
            out.append(Sent(row.kind, row.recipient, row.subject, row.body_text, row.body_html,
                            {f.filename: f.data for f in files},
                            row.headers.get("In-Reply-To")))
        return out


def audit_entries(db: Database, prefix: str = "rights.") -> list[AuditEntry]:
    with db.read_session() as s:
        return [e for e in s.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
                if e.action.startswith(prefix)]


def run_right(db: Database, right: str, case_id: str, customer_id: int,
              extracted: dict[str, Any] | None = None, actor: str = "staff:anna") -> Any:
    """Propose and carry out in one transaction, as an auto-approved or approved case would."""
    with db.session() as s:
        case = s.get(Case, case_id)
        customer = s.get(Customer, customer_id)
        assert case is not None and customer is not None
        handler = HANDLERS[right]
        proposal = handler.propose(s, case, customer, extracted or {})
        return handler.carry_out(s, case, customer, proposal, actor)
