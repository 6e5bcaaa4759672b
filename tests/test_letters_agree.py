"""Letters say what happened: staff's reason under the reasons, sources only for held data,
money in the letter's language, and a printable PDF with page numbers in that language."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers import report_pdf
from handlers.rights import refuse_request
from storage.db import Database
from storage.models import Case, Customer
from tests.conftest import missing_service
from tests.rights_support import ORG, add_customer, add_order, open_case, outbox, run_right

REASON = "Sama vienti lähetettiin sinulle viime viikolla."
REASON_HEADINGS = {"fi": "Epäämisen syyt", "en": "Reasons for the refusal",
                   "sv": "Skälen till avslaget"}
GENERIC = {"fi": "päättänyt evätä sen", "en": "decided to refuse it",
           "sv": "beslutat att avslå den"}


def _customer_case(db: Database, language: str, number: str = "100001",
                   **overrides: object) -> tuple[str, int]:
    with db.session() as s:
        customer = add_customer(s, number, **overrides)
        add_order(s, customer, f"T-{number}", description="Porakone", amount=19990)
        case = open_case(s, customer, ["access"], language=language)
        assert customer.id is not None
        return case.id, customer.id


@pytest.mark.parametrize("language", ["fi", "en", "sv"])
def test_refusal_certificate_states_staff_reason_in_every_language(
    db: Database, language: str
) -> None:
    case_id, customer_id = _customer_case(db, language)
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        refuse_request(s, case, customer, org=ORG, right="access", actor="staff:anna",
                       note=REASON, now=datetime.now(UTC))
    [mail] = outbox(db)
    assert mail.kind == "refusal"
    heading = mail.text.index(REASON_HEADINGS[language])
    assert mail.text.index(REASON) > heading  # listed under the reasons, not as an aside
    assert GENERIC[language] not in mail.text  # no made-up reason in place of staff's own


def test_access_report_lists_sources_only_for_held_data(db: Database) -> None:
    case_id, customer_id = _customer_case(db, "en", ip_address=None, organisation=None,
                                          position=None)
    run_right(db, "access", case_id, customer_id)
    text = outbox(db)[0].text
    assert "IP address: (not stored)" in text
    assert "IP address; Source" not in text and "Organisation represented; Source" not in text
    assert "Item: First name; Source: your own registration or notice" in text
    categories = next(line for line in text.splitlines() if "categories of data" in line)
    assert "organisation" not in categories.lower() and "IP address" not in categories
    assert "First name" in categories and "orders" in categories
    assert "EUR\xa0199.90" in text  # English money: the code, then the amount


def test_access_report_money_in_finnish_and_swedish(db: Database) -> None:
    for language, number in (("fi", "100002"), ("sv", "100003")):
        case_id, customer_id = _customer_case(db, language, number=number)
        run_right(db, "access", case_id, customer_id)
    texts = [m.text for m in outbox(db)]
    assert all("199,90\xa0€" in text for text in texts)


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        missing_service(f"{tool} (poppler-utils) is not installed; scripts/test installs it")
    assert path is not None
    return path


def test_access_report_pdf_has_page_numbers_in_the_letters_language(
    db: Database, tmp_path: Path
) -> None:
    pdftoppm, pdftotext = _poppler("pdftoppm"), _poppler("pdftotext")
    case_id, customer_id = _customer_case(db, "sv")
    with db.session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        for n in range(60):  # enough orders for a second page
            add_order(s, customer, f"T-{2000 + n}", description="Stege", amount=4550)
    run_right(db, "access", case_id, customer_id)
    [pdf] = outbox(db)[0].attachments.values()
    (tmp_path / "report.pdf").write_bytes(pdf)
    subprocess.run([pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1",
                    str(tmp_path / "report.pdf"), str(tmp_path / "page")], check=True)
    [png] = list(tmp_path.glob("page*.png"))
    if keep := os.environ.get("DSRBOT_KEEP_PDF_PNG"):  # to look at the page by eye
        shutil.copy(png, keep)
    assert png.stat().st_size > 1000  # the page rendered to an image
    text = subprocess.run([pdftotext, "-layout", str(tmp_path / "report.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Sida {number} av {len(pages)}" in page
    assert re.search("199,90[ \xa0]€", text), "money in the PDF as in the Swedish letter"


def test_pdf_heading_never_sits_alone_at_the_foot_of_a_page(tmp_path: Path) -> None:
    pdftotext = _poppler("pdftotext")
    lines = ["filler line"] * 47 + ["", "Last heading", "------------", "its first line",
                                    "its second line"]
    pdf = report_pdf.letter_pdf("Title", "\n".join(lines), page_label="Page {page} of {pages}",
                                created=datetime(2026, 12, 7, tzinfo=UTC))
    (tmp_path / "h.pdf").write_bytes(pdf)
    text = subprocess.run([pdftotext, str(tmp_path / "h.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    first, second = [p for p in text.split("\f") if p.strip()]
    assert "Last heading" not in first and "Page 1 of 2" in first
    assert second.strip().startswith("Last heading") and "its first line" in second
    assert "Page 2 of 2" in second
