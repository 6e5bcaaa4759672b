"""Register reads and writes: customers, orders, invoices, parties, exports.

Bulk paths use Core ``insert``/``update`` with parameter lists, because an import of 100,000
customers through one ORM object each is ten times slower and gains nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from mailformat import DsrbotError
from storage import audit, txmemo
from storage.models import (
    Customer,
    Invoice,
    Order,
    Party,
    PartyKind,
    normalise_email,
)

#: Parties every register starts with; operators rename or extend them.
DEFAULT_PARTIES: tuple[tuple[str, PartyKind], ...] = (
    ("customer", PartyKind.CUSTOMER),
    ("address-update-service", PartyKind.AUTHORITY_UPDATE_SERVICE),
    ("company-update-service", PartyKind.COMPANY_UPDATE_SERVICE),
    ("subcontractor", PartyKind.SUBCONTRACTOR),
    ("partner-site", PartyKind.PARTNER_SITE),
    ("financial-administration", PartyKind.FINANCIAL_ADMINISTRATION),
    ("debt-collection", PartyKind.DEBT_COLLECTION),
    ("credit-information", PartyKind.CREDIT_INFORMATION),
)

CHUNK = 2000


@dataclass
class Row:
    """One validated row of an import: its line in the source file and its column values.

    Plain data, so storage never needs to know how a file was read (``handlers.csv_import``
    validates and builds these)."""

    line: int
    values: dict[str, Any]


class ImportRowError(DsrbotError):
    """A row that cannot be imported; names the line and column (``handlers.csv_import``
    raises it as ``CsvImportError`` for bad values, storage for unknown references)."""

    def __init__(self, line: int, column: str | None, message: str) -> None:
        self.line, self.column, self.message = line, column, message
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}")


class ImportRowErrors(ImportRowError):
    """Several bad rows (the first :data:`MAX_REPORTED` of them): an operator fixes them all
    in one go instead of one run per mistake. Nothing is imported."""

    MAX_REPORTED = 50

    def __init__(self, errors: list[ImportRowError], total: int) -> None:
        first = errors[0]
        super().__init__(first.line, first.column, first.message)
        self.errors, self.total = errors, total

    def lines(self) -> list[str]:
        out = [str(e) for e in self.errors]
        if self.total > len(self.errors):
            out.append(f"... and {self.total - len(self.errors)} more bad rows")
        return out


def raise_collected(errors: list[ImportRowError]) -> None:
    """Raise nothing for no errors, the error itself for one, :class:`ImportRowErrors` else."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ImportRowErrors(errors[: ImportRowErrors.MAX_REPORTED], len(errors))


def ensure_default_parties(session: Session) -> None:
    existing = set(session.exec(select(Party.name)).all())
    for name, kind in DEFAULT_PARTIES:
        if name not in existing:
            session.add(Party(name=name, kind=kind.value))
    session.flush()


def party_by_name(session: Session, name: str) -> Party:
    party = session.exec(select(Party).where(Party.name == name)).first()
    if party is None:
        known = ", ".join(session.exec(select(Party.name).order_by(Party.name)).all())
        raise LookupError(f"unknown party {name!r} (known: {known})")
    return party


#: Keys bound in one ``IN (...)`` list: SQLite before 3.32 refuses more than 999 bound
#: parameters in one statement, so longer lists are read in slices of this many.
BOUND_PARAMS = 900


def _slices(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BOUND_PARAMS):
        yield items[start : start + BOUND_PARAMS]


#: The transaction's answers of :func:`customers_by_email`, by normalised address.
_BY_EMAIL = "customers_by_email"
_CUSTOMERS = str(Customer.__tablename__)


def customers_by_email(session: Session, email: str) -> Sequence[Customer]:
    """Every customer whose registered address equals ``email`` case-insensitively, by id.

    Answered from what :func:`remember_customers_by_email` read for the transaction when it
    holds the address (a batch of mail reads its senders in one query, not one each)."""
    key = normalise_email(email)
    if not key:
        return []
    known = txmemo.reading(session, _BY_EMAIL, _CUSTOMERS)
    if key in known:
        return list(known[key])
    return session.exec(select(Customer).where(Customer.email_normalised == key)
                        .order_by(col(Customer.id))).all()


def remember_customers_by_email(session: Session, emails: Iterable[str]) -> None:
    """Read the customers of every address in ``emails`` in one query, for
    :func:`customers_by_email` to answer from until the transaction ends, rolls back, or
    writes to the customer table (then it queries again and sees what was written)."""
    keys = [k for k in dict.fromkeys(normalise_email(e) for e in emails) if k]
    if not keys:
        return
    found: dict[str, list[Customer]] = {k: [] for k in keys}
    for chunk in _slices(keys):
        # The column as stored (a customer already in the session may hold a change not
        # yet written, which the per-address query would not have matched on either).
        for customer, key in session.exec(
                select(Customer, col(Customer.email_normalised))
                .where(col(Customer.email_normalised).in_(chunk))
                .order_by(col(Customer.id))).all():
            found[key].append(customer)
    txmemo.reading(session, _BY_EMAIL, _CUSTOMERS).update(found)


def customer_by_number(session: Session, number: str) -> Customer | None:
    return session.exec(select(Customer).where(Customer.customer_number == number)).first()


def _ids_by_number(session: Session, model: Any, column: Any, numbers: Iterable[str]) -> dict[
    str, int
]:
    wanted = list(dict.fromkeys(numbers))
    found: dict[str, int] = {}
    for chunk in _slices(wanted):
        for number, ident in session.execute(
            select(column, model.id).where(column.in_(chunk))
        ).all():
            found[number] = ident
    return found


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def import_customers(
    session: Session, rows: list[Row], *, source: str, actor: str
) -> ImportResult:
    """Upsert customers by customer number; the record's source is the named party."""
    party = party_by_name(session, source)
    now = datetime.now(UTC)
    existing = _ids_by_number(
        session, Customer, Customer.customer_number, (r.values["customer_number"] for r in rows)
    )
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in rows:
        values = dict(row.values)
        values["updated_at"] = now
        ident = existing.get(values["customer_number"])
        if ident is None:
            values.update(created_at=now, source_party_id=party.id)
            new.append(values)
        else:
            values["id"] = ident
            changed.append(values)
    for start in range(0, len(new), CHUNK):
        session.execute(insert(Customer), new[start : start + CHUNK])
    for start in range(0, len(changed), CHUNK):
        session.execute(update(Customer), changed[start : start + CHUNK])
    audit.record(session, actor, "register.import_customers",
                 details={"created": len(new), "updated": len(changed), "source": source})
    return ImportResult(len(new), len(changed))


def _customer_ids(session: Session, rows: list[Row]) -> dict[str, int]:
    ids = _ids_by_number(
        session, Customer, Customer.customer_number, (r.values["customer_number"] for r in rows)
    )
    raise_collected([ImportRowError(row.line, "customer_number", "no such customer in the register")
                     for row in rows if row.values["customer_number"] not in ids])
    return ids


def _upsert(session: Session, model: Any, key: str, rows: list[dict[str, Any]]) -> ImportResult:
    existing = _ids_by_number(session, model, getattr(model, key), (r[key] for r in rows))
    new = [r for r in rows if r[key] not in existing]
    changed = [dict(r, id=existing[r[key]]) for r in rows if r[key] in existing]
    for start in range(0, len(new), CHUNK):
        session.execute(insert(model), new[start : start + CHUNK])
    for start in range(0, len(changed), CHUNK):
        session.execute(update(model), changed[start : start + CHUNK])
    return ImportResult(len(new), len(changed))


def import_orders(session: Session, rows: list[Row], *, actor: str) -> ImportResult:
    ids = _customer_ids(session, rows)
    values = []
    for row in rows:
        v = dict(row.values)
        v["customer_id"] = ids[v.pop("customer_number")]
        values.append(v)
    result = _upsert(session, Order, "order_number", values)
    audit.record(session, actor, "register.import_orders",
                 details={"created": result.created, "updated": result.updated})
    return result


def import_invoices(session: Session, rows: list[Row], *, actor: str) -> ImportResult:
    ids = _customer_ids(session, rows)
    orders = _ids_by_number(
        session, Order, Order.order_number,
        (r.values["order_number"] for r in rows if r.values["order_number"]),
    )
    raise_collected([ImportRowError(row.line, "order_number", "no such order in the register")
                     for row in rows
                     if row.values["order_number"] and row.values["order_number"] not in orders])
    values = []
    for row in rows:
        v = dict(row.values)
        order_number = v.pop("order_number")
        v["order_id"] = orders.get(order_number) if order_number else None
        v["customer_id"] = ids[v.pop("customer_number")]
        values.append(v)
    result = _upsert(session, Invoice, "invoice_number", values)
    audit.record(session, actor, "register.import_invoices",
                 details={"created": result.created, "updated": result.updated})
    return result


def iter_customers(session: Session, batch: int = 5000) -> Iterator[list[Customer]]:
    """Customers in id order, a batch at a time (keyset pagination: flat memory at 1M rows)."""
    last = 0
    while True:
        rows = session.exec(
            select(Customer).where(col(Customer.id) > last).order_by(col(Customer.id)).limit(batch)
        ).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1].id or last


def orders_and_invoices(
    session: Session, customer_ids: list[int]
) -> tuple[dict[int, list[Order]], dict[int, list[Invoice]]]:
    orders: dict[int, list[Order]] = {}
    invoices: dict[int, list[Invoice]] = {}
    for chunk in _slices(customer_ids):
        for o in session.exec(
            select(Order).where(col(Order.customer_id).in_(chunk)).order_by(col(Order.id))
        ):
            orders.setdefault(o.customer_id, []).append(o)
        for i in session.exec(
            select(Invoice).where(col(Invoice.customer_id).in_(chunk)).order_by(col(Invoice.id))
        ):
            invoices.setdefault(i.customer_id, []).append(i)
    return orders, invoices


def iter_mailing_list(session: Session, purpose: str, batch: int = 20000) -> Iterator[Any]:
    """Who may appear on a list for ``purpose`` (``publication`` or ``marketing``).

    The notice lets the company publish lists such as mailing labels unless the customer forbids
    it; a processing restriction or anonymisation also keeps a person off every list. Rows carry
    only the label columns (plain rows, not ORM objects: a million labels stream in seconds).
    """
    if purpose not in ("publication", "marketing"):
        raise ValueError(f"unknown list purpose {purpose!r}")
    ban = Customer.publication_ban if purpose == "publication" else Customer.marketing_ban
    last = 0
    while True:
        rows = session.execute(
            sa_select(col(Customer.id), col(Customer.first_name), col(Customer.last_name),
                      col(Customer.organisation), col(Customer.postal_address))
            .where(col(Customer.id) > last)
            .where(col(ban).is_(False))
            .where(col(Customer.processing_restricted).is_(False))
            .where(col(Customer.anonymised_at).is_(None))
            .order_by(col(Customer.id))
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id or last
