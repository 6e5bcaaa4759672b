"""``dsrbot case ID`` on the quick path: the case, its trail, the identity summary and the
matched customer, read with plain SQL and shown by the full path's own view."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from bot.cli.case_view import case_record, normalised_case_id, print_case
from bot.cli.quick import Request
from bot.cli.quick.db import connect, reading, row_object
from bot.cli.quick.declined import Declined
from bot.cli.quick.look import record_look
from handlers.cases.identity_view import summarise

#: The columns the case view reads (tests check each exists with the type db.row_object assumes).
CASE_COLUMNS = (
    "id", "status", "types", "requester", "customer_id", "language", "channel", "received_at",
    "due_date", "extended", "extended_due_date", "extension_reason", "claimed_earlier",
    "on_behalf_of", "authority", "authority_by", "authority_at", "authority_document",
    "answer_to_representative", "details", "verification_level", "signature_state",
    "assignee", "reasons", "closed_at")
TRAIL_COLUMNS = ("id", "at", "actor", "action", "customer_number", "details")
CUSTOMER_COLUMNS = ("id", "customer_number", "email_undeliverable_at",
                    "email_undeliverable_status")


def _select(table: str, columns: tuple[str, ...]) -> str:
    return f'SELECT {", ".join(columns)} FROM "{table}"'


def _customer_reader(conn: sqlite3.Connection) -> Callable[[int], SimpleNamespace | None]:
    """A customer row by id, read once however often it is asked for (as the ORM session's
    identity map serves the full path's second look-up)."""
    seen: dict[int, SimpleNamespace | None] = {}

    def customer(customer_id: int) -> SimpleNamespace | None:
        if customer_id not in seen:
            row = conn.execute(_select("customer", CUSTOMER_COLUMNS) + " WHERE id = ?",
                               (customer_id,)).fetchone()
            seen[customer_id] = row_object(row) if row is not None else None
        return seen[customer_id]

    return customer


def read_record(conn: sqlite3.Connection, case_id: str, tz: str) -> dict[str, Any]:
    row = conn.execute(_select("case", CASE_COLUMNS) + " WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        raise Declined("unknown case")  # the full path says so, in its words
    case = row_object(row)
    trail = [row_object(r) for r in conn.execute(
        _select("auditentry", TRAIL_COLUMNS) + " WHERE case_id = ? ORDER BY id", (case_id,))]

    def challenge_customer_id() -> int | None:
        found = conn.execute("SELECT customer_id FROM identitychallenge WHERE case_id = ? "
                             "ORDER BY id DESC LIMIT 1", (case_id,)).fetchone()
        return int(found[0]) if found is not None else None

    customer_row = _customer_reader(conn)

    def customer_number_of(customer_id: int) -> str | None:
        customer = customer_row(customer_id)
        return customer.customer_number if customer is not None else None

    who = summarise(case, trail, challenge_customer_id=challenge_customer_id,
                    customer_number_of=customer_number_of)
    customer = customer_row(who.customer_id) if who.customer_id is not None else None
    return case_record(case, who, trail, customer, tz)


def answer_case(request: Request, values: dict[str, Any]) -> int:
    assert request.case_id is not None  # parse() declines a case without an id
    case_id = normalised_case_id(request.case_id)
    with connect(values["sqlite_path"]) as conn:
        with reading(conn):
            record = read_record(conn, case_id, values["timezone"])
        record_look(conn, values, "case.viewed", case_id=case_id,
                    customer_number=record["customer_number"])
    if "--json" in request.flags:
        print(json.dumps(record, ensure_ascii=False, indent=2))
    else:
        print_case(record)
    return 0
