"""Register exports under the same column names the import uses.

The CSV customer file adds two columns the import does not take (``processing_restricted``,
``anonymised_at``): those states come from requests, never from a spreadsheet. Every CSV cell
goes through :func:`handlers.csv_safe.safe_cell` (a customer named ``=HYPERLINK(...)`` is
written ``'=HYPERLINK(...)``); the import takes that ``'`` off again.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from handlers.csv_import import CUSTOMER_COLUMNS, INVOICE_COLUMNS, ORDER_COLUMNS
from handlers.csv_safe import safe_cell
from storage.models import Customer, Invoice, Order

LABEL_COLUMNS = ("first_name", "last_name", "organisation", "postal_address")


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def euros(cents: int) -> str:
    return f"{cents // 100 if cents >= 0 else -(-cents // 100)}.{abs(cents) % 100:02d}"


def customer_dict(c: Customer) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(c, k) for k in CUSTOMER_COLUMNS}
    out["relationship_start"] = _iso(c.relationship_start)
    out["relationship_end"] = _iso(c.relationship_end)
    out["processing_restricted"] = c.processing_restricted
    out["anonymised_at"] = _iso(c.anonymised_at)
    return out


def order_dict(o: Order, customer_number: str) -> dict[str, Any]:
    return {"order_number": o.order_number, "customer_number": customer_number,
            "ordered_at": _iso(o.ordered_at), "description": o.description,
            "amount": euros(o.amount_cents)}


def invoice_dict(i: Invoice, customer_number: str, order_number: str) -> dict[str, Any]:
    return {"invoice_number": i.invoice_number, "customer_number": customer_number,
            "order_number": order_number, "issued_at": _iso(i.issued_at),
            "due_date": _iso(i.due_date), "amount": euros(i.amount_cents), "status": i.status}


class SafeWriter:
    """``csv.DictWriter`` whose every cell is made safe for spreadsheets first."""

    def __init__(self, out: IO[str], fieldnames: Sequence[str]) -> None:
        self._writer = csv.DictWriter(out, fieldnames=list(fieldnames))
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({k: safe_cell(v) for k, v in row.items()})


Batch = tuple[list[Customer], dict[int, list[Order]], dict[int, list[Invoice]]]


def write_json(batches: Iterator[Batch], out: IO[str]) -> int:
    """Stream a JSON array: one object per customer with its orders and invoices nested."""
    count = 0
    out.write("[")
    for customers, orders, invoices in batches:
        for c in customers:
            assert c.id is not None
            order_numbers = {o.id: o.order_number for o in orders.get(c.id, [])}
            record = customer_dict(c)
            record["orders"] = [order_dict(o, c.customer_number) for o in orders.get(c.id, [])]
            record["invoices"] = [
                invoice_dict(i, c.customer_number, order_numbers.get(i.order_id, ""))
                for i in invoices.get(c.id, [])
            ]
            out.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
            count += 1
    out.write("\n]\n")
    return count


def write_csv_dir(batches: Iterator[Batch], folder: Path) -> int:
    """customers.csv, orders.csv, invoices.csv; orders and invoices re-import as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with (
        (folder / "customers.csv").open("w", newline="", encoding="utf-8") as cf,
        (folder / "orders.csv").open("w", newline="", encoding="utf-8") as of,
        (folder / "invoices.csv").open("w", newline="", encoding="utf-8") as inf,
    ):
        cw = SafeWriter(cf, [*CUSTOMER_COLUMNS, "processing_restricted", "anonymised_at"])
        ow = SafeWriter(of, ORDER_COLUMNS)
        iw = SafeWriter(inf, INVOICE_COLUMNS)
        for customers, orders, invoices in batches:
            for c in customers:
                assert c.id is not None
                row = customer_dict(c)
                for flag in ("is_org_contact", "marketing_ban", "publication_ban",
                             "processing_restricted"):
                    row[flag] = "1" if row[flag] else "0"
                cw.writerow(row)
                numbers = {o.id: o.order_number for o in orders.get(c.id, [])}
                for o in orders.get(c.id, []):
                    ow.writerow(order_dict(o, c.customer_number))
                for i in invoices.get(c.id, []):
                    iw.writerow(invoice_dict(i, c.customer_number, numbers.get(i.order_id, "")))
                count += 1
    return count


def write_label_list(customers: Iterator[Customer], out: IO[str]) -> int:
    writer = SafeWriter(out, LABEL_COLUMNS)
    count = 0
    for c in customers:
        writer.writerow({k: getattr(c, k) for k in LABEL_COLUMNS})
        count += 1
    return count
