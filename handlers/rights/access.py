"""Right of access (*tarkastusoikeus*, GDPR Art. 15): everything we hold, and everything about it.

The report is built as language-neutral data (field codes, party kinds, dates, cents) and
worded by the letter templates, so the same data reads the same in Finnish, English and
Swedish. It answers every question Art. 15 lists: the data itself (every register field,
orders, invoices), where each field came from, to whom it was disclosed and why, the purposes,
the legal basis, how long it is kept (with this customer's date), transfers outside the EU,
the rights and the complaint route, and also what dsrbot itself keeps about the person: their
earlier requests and their outcomes, and each kind of our own records with its retention.
A PDF copy is attached when fpdf2 is installed.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from handlers import report_pdf
from handlers.letters import load_catalogue, render_letter
from handlers.retention.holdings import own_holdings
from handlers.rights.base import (
    GatedHandler,
    OrgInfo,
    Outcome,
    Proposal,
    Reason,
    case_language,
    party_view,
    record_audit,
    registered_recipient,
    send_letter,
)
from handlers.rights.holds import find_holds, relevant_holds
from mailformat import OutAttachment
from storage.models import (
    PERSONAL_FIELDS,
    Case,
    Customer,
    Disclosure,
    FieldChange,
    FieldProvenance,
    Invoice,
    Order,
    Party,
)

FLAGS: tuple[str, ...] = ("marketing_ban", "publication_ban", "processing_restricted",
                          "is_org_contact")


def add_years(d: date, years: int) -> date:
    """Same day ``years`` later; 29 February becomes 28 February in a common year."""
    year = d.year + years
    return date(year, d.month, min(d.day, calendar.monthrange(year, d.month)[1]))


def field_sources(session: Session, customer: Customer) -> dict[str, Party | None]:
    """Where each field came from: the latest per-field provenance, else the record's source."""
    assert customer.id is not None
    record_source = (session.get(Party, customer.source_party_id)
                     if customer.source_party_id is not None else None)
    sources: dict[str, Party | None] = dict.fromkeys(PERSONAL_FIELDS, record_source)
    rows = session.exec(select(FieldProvenance).where(FieldProvenance.customer_id == customer.id)
                        .order_by(col(FieldProvenance.obtained_at), col(FieldProvenance.id)))
    for row in rows:
        if row.field in sources:
            sources[row.field] = session.get(Party, row.party_id)
    return sources


def build_report(
    session: Session, customer: Customer, org: OrgInfo, today: date,
    current_case: str | None = None,
) -> dict[str, Any]:
    """The access report's content for ``customer`` (language-neutral; see access_report.j2).

    ``our_records``: her earlier requests (all but ``current_case``) and the kinds of records
    dsrbot itself keeps about her, with their retention (:mod:`handlers.retention.holdings`).
    """
    assert customer.id is not None
    sources = field_sources(session, customer)
    orders = session.exec(select(Order).where(Order.customer_id == customer.id)
                          .order_by(col(Order.ordered_at), col(Order.id))).all()
    order_numbers = {o.id: o.order_number for o in orders}
    invoices = session.exec(select(Invoice).where(Invoice.customer_id == customer.id)
                            .order_by(col(Invoice.issued_at), col(Invoice.id))).all()
    disclosures = session.exec(select(Disclosure).where(Disclosure.customer_id == customer.id)
                               .order_by(col(Disclosure.disclosed_at))).all()
    changes = session.exec(select(FieldChange).where(FieldChange.customer_id == customer.id)
                           .order_by(col(FieldChange.changed_at))).all()
    end = customer.relationship_end
    return {
        "customer_number": customer.customer_number,
        "fields": [{"field": f, "value": getattr(customer, f),
                    "source": party_view(sources[f])} for f in PERSONAL_FIELDS],
        "relationship_start": customer.relationship_start,
        "relationship_end": end,
        "orders": [{"number": o.order_number, "date": o.ordered_at,
                    "description": o.description, "amount_cents": o.amount_cents}
                   for o in orders],
        "invoices": [{"number": i.invoice_number,
                      "order_number": order_numbers.get(i.order_id, "") if i.order_id else "",
                      "issued": i.issued_at, "due": i.due_date, "amount_cents": i.amount_cents,
                      "status": i.status} for i in invoices],
        "disclosures": [{"party": party_view(session.get(Party, d.party_id)),
                         "fields": [f for f in d.fields if f in PERSONAL_FIELDS],
                         "purpose": d.purpose, "date": d.disclosed_at} for d in disclosures],
        "flags": [{"name": f, "value": bool(getattr(customer, f))} for f in FLAGS],
        "changes": [{"field": c.field, "changed_at": c.changed_at} for c in changes],
        "holds": [h.as_reason().to_dict()
                  for h in relevant_holds(customer, find_holds(session, customer, org, today))
                  if h.code != "org_contact"],
        "retention_years": org.retention_years,
        "retention_until": add_years(end, org.retention_years) if end else None,
        "our_records": own_holdings(session, customer, org.records, current_case=current_case),
    }


class AccessHandler(GatedHandler):
    right = "access"

    def propose_verified(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal:
        if self.signature_required(case):
            # rights.require_signature keeps the notice's "Tarkastuspyyntö on allekirjoitettava."
            return Proposal(self.right, "carry_out", (Reason("signature_missing"),),
                            needs_staff=True)
        return Proposal(self.right, "carry_out")

    def carry_out(
        self, session: Session, case: Case, customer: Customer, proposal: Proposal, actor: str
    ) -> Outcome:
        recipient = registered_recipient(case, customer)
        now = self.clock.now()
        report = build_report(session, customer, self.org, now.date(), current_case=case.id)
        lang = case_language(case)
        context = {"generated_at": now, "report": report, "has_pdf": report_pdf.available()}
        attachments = []
        if report_pdf.available():
            printable = render_letter("access_report", lang, {
                "org": self.org.letter_context(), "case_id": case.id, **context,
                "has_pdf": False}, html=False, tz=self.org.timezone)
            catalogue = load_catalogue(lang)
            attachments.append(OutAttachment(
                f"{catalogue.get('files.report')}-{customer.customer_number}.pdf",
                "application/pdf",
                report_pdf.letter_pdf(printable.subject, printable.text,
                                      footer=f"{self.org.name} · {case.id}", created=now,
                                      page_label=catalogue.get("files.page_of", page="{page}",
                                                               pages="{pages}"))))
        sent = send_letter(session, self.org, case, kind="access_report", recipient=recipient,
                           context=context, attachments=attachments, actor=actor)
        record_audit(session, actor, "rights.access.sent", case, customer,
                     outbound_id=sent.outbound_id, orders=len(report["orders"]),
                     invoices=len(report["invoices"]), disclosures=len(report["disclosures"]),
                     pdf=bool(attachments))
        return Outcome(self.right, "done", letters=(sent,))
