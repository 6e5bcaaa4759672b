"""What keeps a customer's data from being erased, and which fields each hold keeps.

The privacy notice: data is erased on request "unless legislation, open invoices or debt
collection prevent it", and "a person acting as a company's or organisation's contact person
cannot have their data erased during that time". Each hold keeps only the fields its purpose
needs, so an erasure is partial rather than refused whenever it can be:

* an open invoice keeps what invoicing needs (name, organisation, postal address);
* debt collection also keeps the contact details the collector uses (email, phone);
* bookkeeping law keeps invoices, which carry name, organisation and postal address, for
  ``bookkeeping_years`` from the end of the year they were issued in (Accounting Act 2:10);
* a LegalHold row (an authority's order, a lawsuit) keeps the fields it names, or everything;
* an organisation's contact person keeps everything while they act as one: a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, select

from handlers.rights.base import Hold, OrgInfo
from storage.models import PERSONAL_FIELDS, Customer, Invoice, InvoiceStatus, LegalHold

INVOICING_FIELDS: tuple[str, ...] = ("first_name", "last_name", "organisation", "postal_address")
COLLECTION_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "organisation", "email", "postal_address", "phone")


def find_holds(session: Session, customer: Customer, org: OrgInfo, today: date) -> list[Hold]:
    """Every hold on ``customer`` that is in force on ``today``, most restrictive first."""
    assert customer.id is not None
    holds: list[Hold] = []
    if customer.is_org_contact:
        holds.append(Hold("org_contact", PERSONAL_FIELDS))
    for row in session.exec(select(LegalHold).where(LegalHold.customer_id == customer.id)
                            .order_by(col(LegalHold.id))):
        if row.until is None or row.until >= today:
            fields = tuple(f for f in PERSONAL_FIELDS if not row.fields or f in row.fields)
            holds.append(Hold("legal_hold", fields, until=row.until))
    invoices = session.exec(select(Invoice).where(Invoice.customer_id == customer.id)).all()
    collection = [i for i in invoices if i.status == InvoiceStatus.IN_COLLECTION.value]
    open_ = [i for i in invoices if i.status == InvoiceStatus.OPEN.value]
    if collection:
        holds.append(Hold("debt_collection", COLLECTION_FIELDS, count=len(collection)))
    if open_:
        holds.append(Hold("open_invoice", INVOICING_FIELDS, count=len(open_)))
    if invoices:
        until = date(max(i.issued_at.year for i in invoices) + org.bookkeeping_years, 12, 31)
        if until >= today:
            holds.append(Hold("bookkeeping", INVOICING_FIELDS, until=until))
    return holds


def kept_fields(customer: Customer, holds: Sequence[Hold]) -> tuple[str, ...]:
    """Fields that holds keep AND that hold something (an empty field needs no keeping)."""
    wanted = {f for h in holds for f in h.fields}
    return tuple(f for f in PERSONAL_FIELDS if f in wanted and getattr(customer, f))


def erasable_fields(customer: Customer, holds: Sequence[Hold]) -> tuple[str, ...]:
    kept = set(kept_fields(customer, holds))
    return tuple(f for f in PERSONAL_FIELDS if f not in kept and getattr(customer, f))


def blocking_holds(holds: Sequence[Hold]) -> list[Hold]:
    """Holds that keep every field: any of them turns the erasure into a refusal."""
    return [h for h in holds if set(PERSONAL_FIELDS) <= set(h.fields)]


def blocks_everything(holds: Sequence[Hold]) -> bool:
    return bool(blocking_holds(holds))


def relevant_holds(customer: Customer, holds: Sequence[Hold]) -> list[Hold]:
    """Holds that actually keep something of this customer's, for the letter's reasons."""
    return [h for h in holds if h.code == "org_contact" or any(getattr(customer, f)
                                                               for f in h.fields)]
