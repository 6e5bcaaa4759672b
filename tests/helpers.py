"""Small test helpers: run the real CLI in a subprocess-free way, write CSV files."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner, Result

from bot.cli import app
from handlers.csv_import import CUSTOMER_COLUMNS


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def customer_row(number: str, **overrides: str) -> dict[str, str]:
    row = {
        "customer_number": number, "first_name": "Maija", "last_name": "Meikäläinen",
        "organisation": "", "position": "", "email": f"maija{number}@example.fi",
        "postal_address": "Hämeenkatu 12 B 7, 33100 Tampere", "phone": "040 123 4567",
        "www": "", "ip_address": "", "relationship_start": "2020-01-15",
        "relationship_end": "", "is_org_contact": "0", "marketing_ban": "0",
        "publication_ban": "0",
    }
    row.update(overrides)
    return row


def write_customers_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CUSTOMER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path
