"""The register: imports are all or nothing, lookups are case-insensitive, lists honour bans."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from handlers.csv_import import CsvImportError, parse_customers
from storage import register as reg
from storage.candidates import CandidateKeys, find_candidates, remember_candidates
from storage.db import Database
from storage.models import AuditEntry, Customer
from tests import factories
from tests.helpers import customer_row, run_cli, write_customers_csv


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    # anna is staff: `--as` must name a staff member exactly.
    path.write_text('[database]\nurl = "sqlite:///d.db"\n[[chat.staff]]\nname = "anna"\n',
                    encoding="utf-8")
    assert run_cli("--config", str(path), "init").exit_code == 0
    return path


def _customers(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'd.db'}")


def test_csv_import_creates_customers_with_normalised_email_and_e164_phone(
    cfg: Path, tmp_path: Path
) -> None:
    path = write_customers_csv(tmp_path / "c.csv", [
        customer_row("100001", email="Maija.M@Example.FI", phone="040 123 4567"),
        customer_row("100002", phone="+358 50 7654321", is_org_contact="yes"),
    ])
    result = run_cli("--config", str(cfg), "import", "customers", str(path), "--as", "anna")
    assert result.exit_code == 0, result.stderr
    assert "2 created" in result.stdout
    db = _customers(tmp_path)
    with db.read_session() as s:
        c = reg.customers_by_email(s, "maija.m@example.fi")[0]
        assert c.email == "Maija.M@Example.FI"
        assert c.phone == "+358401234567"
        other = reg.customer_by_number(s, "100002")
        assert other is not None and other.is_org_contact and other.phone == "+358507654321"
        entry = s.exec(select(AuditEntry).where(
            AuditEntry.action == "register.import_customers")).one()
        assert entry.actor == "operator:anna"
        assert "Maija" not in json.dumps(entry.details)
    db.dispose()


@pytest.mark.parametrize(
    ("override", "column"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"relationship_start": "2024-02-30"}, "relationship_start"),
        ({"marketing_ban": "maybe"}, "marketing_ban"),
        ({"phone": "12"}, "phone"),
        ({"postal_address": "Hämeenkatu 12, Tampere"}, "postal_address"),
    ],
)
def test_csv_with_one_bad_row_imports_nothing_and_names_line_and_column(
    cfg: Path, tmp_path: Path, override: dict[str, str], column: str
) -> None:
    rows = [customer_row(str(100001 + i)) for i in range(5)]
    rows[3].update(override)
    path = write_customers_csv(tmp_path / "c.csv", rows)
    result = run_cli("--config", str(cfg), "import", "customers", str(path))
    assert result.exit_code == 1
    assert f"line 5, column {column}" in result.stderr
    assert "nothing was imported" in result.stderr
    db = _customers(tmp_path)
    with db.read_session() as s:
        assert s.exec(select(Customer)).all() == []
    db.dispose()


def test_csv_with_wrong_columns_is_refused() -> None:
    text = "customer_number,first_name\n1,A\n"
    with pytest.raises(CsvImportError, match="line 1, column last_name: missing column"):
        parse_customers(io.StringIO(text))


def test_duplicate_customer_number_in_file_names_both_lines() -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(customer_row("1")))
    writer.writeheader()
    writer.writerows([customer_row("100001"), customer_row("100001")])
    with pytest.raises(CsvImportError, match="line 3, column customer_number: duplicate of line 2"):
        parse_customers(io.StringIO(buf.getvalue()))


def test_reimport_updates_instead_of_duplicating(cfg: Path, tmp_path: Path) -> None:
    path = write_customers_csv(tmp_path / "c.csv", [customer_row("100001")])
    run_cli("--config", str(cfg), "import", "customers", str(path))
    write_customers_csv(path, [customer_row("100001", last_name="Virtanen")])
    result = run_cli("--config", str(cfg), "import", "customers", str(path))
    assert "0 created, 1 updated" in result.stdout
    db = _customers(tmp_path)
    with db.read_session() as s:
        assert [c.last_name for c in s.exec(select(Customer))] == ["Virtanen"]
    db.dispose()


def test_orders_and_invoices_import_and_reference_customers(cfg: Path, tmp_path: Path) -> None:
    write_customers_csv(tmp_path / "c.csv", [customer_row("100001")])
    run_cli("--config", str(cfg), "import", "customers", str(tmp_path / "c.csv"))
    (tmp_path / "o.csv").write_text(
        "order_number,customer_number,ordered_at,description,amount\n"
        "5000001,100001,2025-03-01,Porakone,129.90\n", encoding="utf-8")
    (tmp_path / "i.csv").write_text(
        "invoice_number,customer_number,order_number,issued_at,due_date,amount,status\n"
        "90000001,100001,5000001,2025-03-01,2025-03-15,\"129,90\",open\n", encoding="utf-8")
    assert run_cli("--config", str(cfg), "import", "orders", str(tmp_path / "o.csv")).exit_code == 0
    res = run_cli("--config", str(cfg), "import", "invoices", str(tmp_path / "i.csv"))
    assert res.exit_code == 0, res.stderr
    out = run_cli("--config", str(cfg), "export", "register", "--format", "json")
    data = json.loads(out.stdout)
    assert data[0]["orders"][0]["amount"] == "129.90"
    assert data[0]["invoices"][0] == {
        "invoice_number": "90000001", "customer_number": "100001", "order_number": "5000001",
        "issued_at": "2025-03-01", "due_date": "2025-03-15", "amount": "129.90",
        "status": "open"}


def test_order_for_unknown_customer_names_the_line(cfg: Path, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(
        "order_number,customer_number,ordered_at,description,amount\n"
        "5000001,199999,2025-03-01,Porakone,1\n", encoding="utf-8")
    res = run_cli("--config", str(cfg), "import", "orders", str(tmp_path / "o.csv"))
    assert res.exit_code == 1
    assert "line 2, column customer_number: no such customer" in res.stderr


def test_export_register_json_has_every_field_under_import_names(cfg: Path,
                                                                 tmp_path: Path) -> None:
    write_customers_csv(tmp_path / "c.csv", [customer_row("100001", www="https://m.fi")])
    run_cli("--config", str(cfg), "import", "customers", str(tmp_path / "c.csv"))
    data = json.loads(run_cli("--config", str(cfg), "export", "register").stdout)
    from handlers.csv_import import CUSTOMER_COLUMNS
    assert set(CUSTOMER_COLUMNS) <= set(data[0])
    assert data[0]["www"] == "https://m.fi"


def test_export_register_csv_writes_three_files(cfg: Path, tmp_path: Path) -> None:
    write_customers_csv(tmp_path / "c.csv", [customer_row("100001")])
    run_cli("--config", str(cfg), "import", "customers", str(tmp_path / "c.csv"))
    out = tmp_path / "export"
    res = run_cli("--config", str(cfg), "export", "register", "--format", "csv",
                  "--output", str(out))
    assert res.exit_code == 0
    rows = list(csv.DictReader((out / "customers.csv").open(encoding="utf-8")))
    assert rows[0]["customer_number"] == "100001" and rows[0]["phone"] == "+358401234567"
    assert (out / "orders.csv").exists() and (out / "invoices.csv").exists()


def test_publication_ban_leaves_person_out_of_list(cfg: Path, tmp_path: Path) -> None:
    write_customers_csv(tmp_path / "c.csv", [
        customer_row("100001", last_name="Listalla"),
        customer_row("100002", last_name="Kieltänyt", publication_ban="1"),
        customer_row("100003", last_name="Markkinointikielto", marketing_ban="1"),
    ])
    run_cli("--config", str(cfg), "import", "customers", str(tmp_path / "c.csv"))
    pub = run_cli("--config", str(cfg), "export", "list", "--purpose", "publication").stdout
    mkt = run_cli("--config", str(cfg), "export", "list", "--purpose", "marketing").stdout
    assert "Listalla" in pub and "Markkinointikielto" in pub and "Kieltänyt" not in pub
    assert "Listalla" in mkt and "Kieltänyt" in mkt and "Markkinointikielto" not in mkt


def test_restricted_and_anonymised_people_are_on_no_list(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as s:
        for n, flags in (("1", {}), ("2", {"processing_restricted": True}),
                         ("3", {"anonymised_at": now})):
            factories.add_customer(s, n, last_name=f"L{n}", **flags)
    with db.read_session() as s:
        for purpose in ("publication", "marketing"):
            assert [c.last_name for c in reg.iter_mailing_list(s, purpose)] == ["L1"]


def test_email_lookup_is_case_insensitive_and_exact(db: Database) -> None:
    with db.session() as s:
        factories.add_customer(s, "1", email="Pekka.Virtanen@Example.fi")
    with db.read_session() as s:
        assert len(reg.customers_by_email(s, " PEKKA.virtanen@example.FI ")) == 1
        assert reg.customers_by_email(s, "pekka.virtanen+x@example.fi") == []
        assert reg.customers_by_email(s, "") == []


def test_demo_data_builds_a_register_with_holds(db: Database) -> None:
    from storage import demo_data
    with db.session() as s:
        totals = demo_data.generate(s, 3000, seed=7)
    assert totals["customers"] == 3000
    with db.read_session() as s:
        customers = s.exec(select(Customer)).all()
        assert any(c.is_org_contact for c in customers)
        from storage.models import Invoice
        statuses = {i.status for i in s.exec(select(Invoice))}
        assert statuses == {"open", "paid", "in_collection"}
        assert len({c.customer_number for c in customers}) == 3000


def test_an_address_read_for_a_batch_still_finds_a_customer_written_later_in_its_transaction(
    db: Database,
) -> None:
    """A batch reads its senders' customers once; a register write later in the same
    transaction (a row added, an address changed by statement or in a loaded row) must be
    seen by the next look-up, as a query of its own would."""
    with db.session() as s:
        reg.remember_customers_by_email(s, ["uusi@example.fi", "toinen@example.fi",
                                            "kolmas@example.fi"])
        assert reg.customers_by_email(s, "uusi@example.fi") == []
        factories.add_customer(s, "1", email="Uusi@Example.fi")
        assert [c.customer_number for c in reg.customers_by_email(s, "uusi@example.fi")] == ["1"]

        reg.remember_customers_by_email(s, ["toinen@example.fi"])
        s.execute(update(Customer).where(col(Customer.customer_number) == "1")
                  .values(email="toinen@example.fi", email_normalised="toinen@example.fi"))
        assert [c.customer_number for c in reg.customers_by_email(s, "toinen@example.fi")] == [
            "1"]

        customer = factories.add_customer(s, "2", email="muu@example.fi")
        reg.remember_customers_by_email(s, ["kolmas@example.fi"])
        customer.email, customer.email_normalised = "kolmas@example.fi", "kolmas@example.fi"
        assert [c.customer_number for c in reg.customers_by_email(s, "kolmas@example.fi")] == [
            "2"]


def test_customers_sharing_an_address_come_back_oldest_first_whether_read_alone_or_for_a_batch(
    db: Database,
) -> None:
    with db.session() as s:
        for number in ("3", "1", "2"):
            factories.add_customer(s, number, email="yhteinen@example.fi")
    with db.read_session() as s:
        alone = [c.customer_number for c in reg.customers_by_email(s, "yhteinen@example.fi")]
    with db.read_session() as s:
        reg.remember_customers_by_email(s, ["YHTEINEN@example.fi"])
        batch = [c.customer_number for c in reg.customers_by_email(s, "yhteinen@example.fi")]
    assert alone == batch == ["3", "1", "2"]


def test_candidates_read_for_a_batch_are_those_each_mail_finds_alone(db: Database) -> None:
    """A batch reads every request's candidate keys in one query and decides per mail which
    customers match: the same customers, in the same order, as each mail's own query (names
    compared as the database lower-cases them, anonymised customers left out), and a customer
    added later in the same transaction is found."""
    with db.session() as s:
        factories.add_customer(s, "A-1001", email="a@example.fi")
        factories.add_customer(s, "2", phone="+358401111111")
        factories.add_customer(s, "3", first_name="Äijä", last_name="Ölander",
                               phone="+358402222222")
        factories.add_customer(s, "4", phone="+358401111111", anonymised_at=datetime.now(UTC))
        factories.add_customer(s, "5", first_name="Matti", last_name="Virtanen")
    many = [CandidateKeys(customer_numbers=["A-1001"], names=[("matti", "VIRTANEN")]),
            CandidateKeys(phones=["+358401111111"], emails=["b@example.fi"]),
            CandidateKeys(names=[("äijä", "ölander"), ("ÄIJÄ", "Ölander")]),
            CandidateKeys(near_misses=["a@example.fi"]), CandidateKeys(),
            CandidateKeys(phones=["+358402222222"])]

    def numbers(found: Sequence[Customer]) -> list[str]:
        return [c.customer_number for c in found]

    with db.read_session() as s:
        alone = [numbers(find_candidates(s, keys)) for keys in many]
    with db.session() as s:
        remember_candidates(s, many)
        assert [numbers(find_candidates(s, keys)) for keys in many] == alone
        assert alone[:2] == [["A-1001", "5"], ["2"]]
        factories.add_customer(s, "6", email="b@example.fi")
        assert numbers(find_candidates(s, many[1])) == ["2", "6"]
