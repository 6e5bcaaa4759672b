"""Customer CSV files as Finnish offices produce them (issue 20): `;`-separated Windows-1252
from Excel, UTF-8 with or without a BOM; every bad row reported, nothing imported; foreign
addresses with a country line accepted."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from handlers import fields
from handlers.csv_import import CUSTOMER_COLUMNS
from storage import register as reg
from storage.db import Database
from tests.helpers import customer_row, run_cli

LONDON = "221B Baker Street\nLondon NW1 6XE\nUnited Kingdom"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "sqlite:///d.db"\n', encoding="utf-8")
    assert run_cli("--config", str(path), "init").exit_code == 0
    return path


def _csv_bytes(rows: list[dict[str, str]], *, delimiter: str, encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CUSTOMER_COLUMNS, delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def _numbers(tmp_path: Path) -> list[str]:
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        with db.read_session() as s:
            return sorted(c.customer_number for batch in reg.iter_customers(s) for c in batch)
    finally:
        db.dispose()


@pytest.mark.parametrize(("delimiter", "encoding", "said"), [
    (";", "cp1252", "Windows-1252, semicolon-separated"),
    (",", "utf-8-sig", "UTF-8 with BOM, comma-separated"),
    (";", "utf-8", "UTF-8, semicolon-separated"),
])
def test_excel_and_utf8_files_import_and_the_format_used_is_named(
    cfg: Path, tmp_path: Path, delimiter: str, encoding: str, said: str,
) -> None:
    path = tmp_path / "asiakkaat.csv"
    path.write_bytes(_csv_bytes([customer_row("100001", first_name="Jörö", last_name="Ståhlberg"),
                                 customer_row("100002")], delimiter=delimiter,
                                encoding=encoding))
    result = run_cli("--config", str(cfg), "import", "customers", str(path))
    assert result.exit_code == 0, result.stderr
    assert "2 created" in result.stdout and said in result.stdout
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    with db.read_session() as s:
        customer = reg.customer_by_number(s, "100001")
        assert customer is not None
        assert (customer.first_name, customer.last_name) == ("Jörö", "Ståhlberg")
    db.dispose()


def test_every_bad_row_is_reported_with_line_and_column_and_nothing_imported(
    cfg: Path, tmp_path: Path,
) -> None:
    rows = [customer_row(str(100001 + i)) for i in range(6)]
    rows[1]["email"] = "not-an-address"
    rows[3]["phone"] = "12"
    rows[4]["postal_address"] = "Hämeenkatu 12, Tampere"
    path = tmp_path / "c.csv"
    path.write_bytes(_csv_bytes(rows, delimiter=";", encoding="cp1252"))
    result = run_cli("--config", str(cfg), "import", "customers", str(path))
    assert result.exit_code == 1
    for where in ("line 3, column email", "line 5, column phone", "line 6, column postal_address"):
        assert where in result.stderr
    assert "3 bad rows" in result.stderr and "nothing was imported" in result.stderr
    assert _numbers(tmp_path) == []


def test_at_most_fifty_bad_rows_are_listed_and_the_rest_counted(
    cfg: Path, tmp_path: Path,
) -> None:
    rows = [customer_row(str(100001 + i), email="bad") for i in range(60)]
    path = tmp_path / "c.csv"
    path.write_bytes(_csv_bytes(rows, delimiter=",", encoding="utf-8"))
    result = run_cli("--config", str(cfg), "import", "customers", str(path))
    assert result.exit_code == 1
    assert result.stderr.count("column email") == 50
    assert "and 10 more bad rows" in result.stderr and "60 bad rows" in result.stderr


def test_a_london_address_with_its_country_line_imports(cfg: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(_csv_bytes([customer_row("100001", postal_address=LONDON)],
                                delimiter=",", encoding="utf-8"))
    result = run_cli("--config", str(cfg), "import", "customers", str(path))
    assert result.exit_code == 0, result.stderr
    assert _numbers(tmp_path) == ["100001"]


@pytest.mark.parametrize("address", [
    "Hämeenkatu 12, Tampere",             # no country line: Finnish rules
    "Hämeenkatu 12, Tampere, Finland",    # Finland named: Finnish rules
    "Mannerheimintie 1, Helsinki, Suomi",
])
def test_finnish_addresses_still_need_a_five_digit_postal_code(address: str) -> None:
    with pytest.raises(fields.FieldError, match="five-digit"):
        fields.validate_postal_address(address)


@pytest.mark.parametrize(("address", "country"), [
    (LONDON, "GB"), ("Storgatan 1, 111 22 Stockholm, Sverige", "SE"),
    ("Hämeenkatu 12 B 7, 33100 Tampere", None),
])
def test_the_country_line_decides_which_rules_apply(address: str, country: str | None) -> None:
    assert fields.address_country(address) == country
    assert fields.validate_postal_address(address)
