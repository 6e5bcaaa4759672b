"""Reading register CSV files: every row validated before anything is written.

A CSV import is all-or-nothing: the first bad value stops it with the line and column named,
so an operator fixes the file and runs it again instead of untangling a half import.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any, TypeVar

from handlers import fields as f
from handlers.csv_safe import safe_cell
from storage.models import InvoiceStatus
from storage.register import ImportRowError, Row

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_number", "first_name", "last_name", "organisation", "position", "email",
    "postal_address", "phone", "www", "ip_address", "relationship_start", "relationship_end",
    "is_org_contact", "marketing_ban", "publication_ban",
)
ORDER_COLUMNS: tuple[str, ...] = (
    "order_number", "customer_number", "ordered_at", "description", "amount",
)
INVOICE_COLUMNS: tuple[str, ...] = (
    "invoice_number", "customer_number", "order_number", "issued_at", "due_date", "amount",
    "status",
)


#: A bad value, a missing column or an unknown reference: the line and column named.
CsvImportError = ImportRowError


T = TypeVar("T")


def _rows(lines: Iterable[str], columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    extra = [c for c in header if c not in columns]
    if missing:
        raise CsvImportError(1, missing[0], "missing column")
    if extra:
        raise CsvImportError(1, extra[0], "unknown column")
    reader.fieldnames = header
    for raw in reader:
        if None in raw:
            raise CsvImportError(reader.line_num, None, "more values than columns")
        if all(not (v or "").strip() for v in raw.values()):
            continue
        yield reader.line_num, {k: unescape_cell((v or "").strip()).strip()
                                for k, v in raw.items()}


def unescape_cell(value: str) -> str:
    """Undo :func:`handlers.csv_safe.safe_cell`: our exports prefix ``'`` to a cell that
    starts like a formula, so one leading ``'`` before ``= + - @``, tab or CR is dropped and
    an exported file imports as it was. (A value that itself began with ``'`` and then one of
    those characters loses that ``'``; a lone ``'`` before anything else is kept.)"""
    if value.startswith("'") and safe_cell(value[1:]) == value:
        return value[1:]
    return value


def _field(line: int, column: str, fn: Callable[[str], T], value: str) -> T:
    try:
        return fn(value)
    except f.FieldError as exc:
        raise CsvImportError(line, column, str(exc)) from exc


def _required(line: int, column: str, value: str) -> str:
    if not value:
        raise CsvImportError(line, column, "value is required")
    return value


def _optional_date(value: str) -> date | None:
    return f.parse_date(value) if value else None


def _unique(line: int, column: str, value: str, seen: dict[str, int]) -> None:
    if value in seen:
        raise CsvImportError(line, column, f"duplicate of line {seen[value]}")
    seen[value] = line


def parse_customers(lines: Iterable[str]) -> list[Row]:
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, r in _rows(lines, CUSTOMER_COLUMNS):
        number = _required(line, "customer_number", r["customer_number"])
        _unique(line, "customer_number", number, seen)
        email = _field(line, "email", f.validate_email_address, r["email"]) if r["email"] else ""
        phone = _field(line, "phone", f.normalise_phone, r["phone"]) if r["phone"] else ""
        start = _field(line, "relationship_start", _optional_date, r["relationship_start"])
        end = _field(line, "relationship_end", _optional_date, r["relationship_end"])
        if start and end and end < start:
            raise CsvImportError(line, "relationship_end", "ends before relationship_start")
        values: dict[str, Any] = {
            "customer_number": number,
            "first_name": r["first_name"],
            "last_name": r["last_name"],
            "organisation": r["organisation"],
            "position": r["position"],
            "email": email,
            "email_normalised": f.normalise_email(email),
            "postal_address": _field(
                line, "postal_address", f.validate_postal_address, r["postal_address"]
            ),
            "phone": phone,
            "www": r["www"],
            "ip_address": r["ip_address"],
            "relationship_start": start,
            "relationship_end": end,
        }
        for flag in ("is_org_contact", "marketing_ban", "publication_ban"):
            values[flag] = _field(line, flag, f.parse_flag, r[flag])
        rows.append(Row(line, values))
    return rows


def parse_orders(lines: Iterable[str]) -> list[Row]:
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, r in _rows(lines, ORDER_COLUMNS):
        number = _required(line, "order_number", r["order_number"])
        _unique(line, "order_number", number, seen)
        rows.append(Row(line, {
            "order_number": number,
            "customer_number": _required(line, "customer_number", r["customer_number"]),
            "ordered_at": _field(line, "ordered_at", f.parse_date,
                                 _required(line, "ordered_at", r["ordered_at"])),
            "description": r["description"],
            "amount_cents": _field(line, "amount", f.parse_amount_cents, r["amount"] or "0"),
        }))
    return rows


def _status(value: str) -> str:
    try:
        return InvoiceStatus(value.strip().lower()).value
    except ValueError as exc:
        allowed = ", ".join(s.value for s in InvoiceStatus)
        raise f.FieldError(f"invalid status {value!r} (use {allowed})") from exc


def parse_invoices(lines: Iterable[str]) -> list[Row]:
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, r in _rows(lines, INVOICE_COLUMNS):
        number = _required(line, "invoice_number", r["invoice_number"])
        _unique(line, "invoice_number", number, seen)
        rows.append(Row(line, {
            "invoice_number": number,
            "customer_number": _required(line, "customer_number", r["customer_number"]),
            "order_number": r["order_number"],
            "issued_at": _field(line, "issued_at", f.parse_date,
                                _required(line, "issued_at", r["issued_at"])),
            "due_date": _field(line, "due_date", f.parse_date,
                               _required(line, "due_date", r["due_date"])),
            "amount_cents": _field(line, "amount", f.parse_amount_cents, r["amount"] or "0"),
            "status": _field(line, "status", _status, r["status"] or "open"),
        }))
    return rows
