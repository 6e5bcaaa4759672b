"""Reading register CSV files: every row validated before anything is written.

A CSV import is all-or-nothing: any bad row stops it, and every bad row (up to 50) is named by
line and column, so an operator fixes the file once and runs it again instead of untangling a
half import. Files come as Finnish offices make them: Excel here saves `;`-separated
Windows-1252, other tools `,`-separated UTF-8 (with or without a BOM); :func:`decode_csv`
accepts both and says which it found.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from handlers import fields as f
from handlers.csv_safe import safe_cell
from storage.models import InvoiceStatus
from storage.register import ImportRowError, Row, raise_collected

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


@dataclass(frozen=True)
class CsvText:
    """A decoded file and what was detected, for the operator's report."""

    lines: list[str]
    encoding: str
    delimiter: str

    def describe(self) -> str:
        sep = "semicolon" if self.delimiter == ";" else "comma"
        return f"{self.encoding}, {sep}-separated"


def decode_csv(data: bytes) -> CsvText:
    """UTF-8 (a BOM is dropped) when the bytes are valid UTF-8, else Windows-1252 (Latin-1 for
    the few bytes Windows-1252 leaves undefined). Valid UTF-8 is almost never a legacy file by
    accident, so trying it first is safe; the reverse is not."""
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            text, encoding = data[3:].decode("utf-8"), "UTF-8 with BOM"
        else:
            text, encoding = data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "Latin-1"
    lines = text.splitlines(keepends=True)
    return CsvText(lines, encoding, sniff_delimiter(lines[0] if lines else ""))


def sniff_delimiter(header: str) -> str:
    """``;`` when the header line has more semicolons than commas (column names hold neither)."""
    return ";" if header.count(";") > header.count(",") else ","


def _rows(
    lines: Iterable[str], columns: tuple[str, ...], delimiter: str | None = None,
) -> Iterator[tuple[int, dict[str, str] | None]]:
    """(line, values) per non-empty row; values is None for a row with too many values."""
    source = iter(lines)
    first = next(source, "")
    reader = csv.DictReader(_chain(first, source),
                            delimiter=delimiter or sniff_delimiter(first))
    header = [h.strip().lstrip("\ufeff") for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    extra = [c for c in header if c not in columns]
    if missing:
        raise CsvImportError(1, missing[0], "missing column")
    if extra:
        raise CsvImportError(1, extra[0], "unknown column")
    reader.fieldnames = header
    for raw in reader:
        if None in raw:
            yield reader.line_num, None  # the caller reports it and goes on
            continue
        if all(not (v or "").strip() for v in raw.values()):
            continue
        yield reader.line_num, {k: unescape_cell((v or "").strip()).strip()
                                for k, v in raw.items()}


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _each_row(
    lines: Iterable[str], columns: tuple[str, ...], delimiter: str | None,
    build: Callable[[int, dict[str, str]], Row],
) -> list[Row]:
    """Build every row; collect the bad ones (one error per row: its first bad column)."""
    rows: list[Row] = []
    errors: list[ImportRowError] = []
    for line, values in _rows(lines, columns, delimiter):
        try:
            if values is None:
                raise CsvImportError(line, None, "more values than columns")
            rows.append(build(line, values))
        except CsvImportError as exc:
            errors.append(exc)
    raise_collected(errors)
    return rows


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


def parse_customers(lines: Iterable[str], delimiter: str | None = None) -> list[Row]:
    seen: dict[str, int] = {}

    def build(line: int, r: dict[str, str]) -> Row:
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
        return Row(line, values)

    return _each_row(lines, CUSTOMER_COLUMNS, delimiter, build)


def parse_orders(lines: Iterable[str], delimiter: str | None = None) -> list[Row]:
    seen: dict[str, int] = {}

    def build(line: int, r: dict[str, str]) -> Row:
        number = _required(line, "order_number", r["order_number"])
        _unique(line, "order_number", number, seen)
        return Row(line, {
            "order_number": number,
            "customer_number": _required(line, "customer_number", r["customer_number"]),
            "ordered_at": _field(line, "ordered_at", f.parse_date,
                                 _required(line, "ordered_at", r["ordered_at"])),
            "description": r["description"],
            "amount_cents": _field(line, "amount", f.parse_amount_cents, r["amount"] or "0"),
        })

    return _each_row(lines, ORDER_COLUMNS, delimiter, build)


def _status(value: str) -> str:
    try:
        return InvoiceStatus(value.strip().lower()).value
    except ValueError as exc:
        allowed = ", ".join(s.value for s in InvoiceStatus)
        raise f.FieldError(f"invalid status {value!r} (use {allowed})") from exc


def parse_invoices(lines: Iterable[str], delimiter: str | None = None) -> list[Row]:
    seen: dict[str, int] = {}

    def build(line: int, r: dict[str, str]) -> Row:
        number = _required(line, "invoice_number", r["invoice_number"])
        _unique(line, "invoice_number", number, seen)
        return Row(line, {
            "invoice_number": number,
            "customer_number": _required(line, "customer_number", r["customer_number"]),
            "order_number": r["order_number"],
            "issued_at": _field(line, "issued_at", f.parse_date,
                                _required(line, "issued_at", r["issued_at"])),
            "due_date": _field(line, "due_date", f.parse_date,
                               _required(line, "due_date", r["due_date"])),
            "amount_cents": _field(line, "amount", f.parse_amount_cents, r["amount"] or "0"),
            "status": _field(line, "status", _status, r["status"] or "open"),
        })

    return _each_row(lines, INVOICE_COLUMNS, delimiter, build)
