"""What ``dsrbot cases`` prints: one record per case, a table on a terminal, lines in a pipe.

Shared by the full path (:mod:`bot.cli.admin_cmds`, rows from the ORM) and the quick path
(:mod:`bot.cli.quick`, rows from plain SQL): a case row is anything with the case's column
names as attributes, so the two paths print the same bytes for the same database.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from storage.case_status import CLOSED


def case_records(rows: Iterable[tuple[Any, str | None]], every: bool) -> list[dict[str, Any]]:
    """(case row, customer number) -> the records ``cases`` shows (open ones unless ``every``)."""
    return [
        {
            "id": c.id, "types": c.types, "status": c.status,
            "received_at": c.received_at.isoformat(),
            "due_date": (c.extended_due_date or c.due_date).isoformat(),
            "customer_number": number, "requester": c.requester, "language": c.language,
            "claimed_earlier": c.claimed_earlier.isoformat() if c.claimed_earlier else None,
            "on_behalf_of": c.on_behalf_of,
        }
        for c, number in rows if every or c.status not in CLOSED
    ]


def print_cases(records: list[dict[str, Any]], *, as_json: bool, every: bool) -> None:
    if as_json:
        print(json.dumps(records, ensure_ascii=False, indent=2))
        return
    header = ("id", "types", "status", "due", "customer", "lang")
    lines = [(r["id"], ",".join(r["types"]), r["status"].replace("_", " "), r["due_date"],
              r["customer_number"] or "-", r["language"]) for r in records]
    if not sys.stdout.isatty():
        # Piped: one line per case, never wrapped or cut, columns aligned for `column`/awk.
        sizes = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
        for row in [header, *lines]:
            print("  ".join(v.ljust(w) for v, w in zip(row, sizes, strict=True)).rstrip())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(records)} {'' if every else 'open '}case(s)")
    # What staff act on, readable in 80 columns: nothing is cut ("dsrbot case ID" has the rest).
    widths = {"id": 13, "status": 17, "due": 10}
    for column in header:
        table.add_column(column, no_wrap=column != "types", overflow="fold",
                         min_width=widths.get(column))
    for row in lines:
        table.add_row(row[0], row[1].replace(",", ", "), *row[2:])
    Console().print(table)
