"""Acting for someone: a lawyer writes for a client, letter of authority enclosed.

The data subject is the client, so nothing personal goes to the lawyer until staff have checked
the authority, and even then only when staff choose so; the answer otherwise goes to the
client's registered address. The outbox is the witness of who got what.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.pipeline import run_once
from bot.settings import Settings
from storage.db import Database
from storage.models import AuditEntry, Case, OutboundMessage
from tests import web_kit as kit
from tests.test_pipeline import customer, deliver, mail, only_case, outbox_rows  # noqa: F401

LAWYER = "pekka.laine@lakilaine.fi"
REGISTERED = "Maija.Virtanen@example.fi"  # as the register holds it
AUTHORITY = (b"%PDF-1.4\n% valtakirja, allekirjoitettu\n", "application", "pdf",
             "valtakirja.pdf")
FI_REQUEST = ("Hei,\n\nPyydän päämieheni Maija Virtasen puolesta jäljennöksen kaikista hänestä "
              "tallennetuista henkilötiedoista (tietosuoja-asetuksen 15 artikla). Valtakirja "
              "on liitteenä.\n\nLakimies Pekka Laine\nLakitoimisto Laine")
EN_REQUEST = ("Dear Sir or Madam,\n\nI am writing on behalf of my client, Maija Virtanen, to "
              "request a copy of all personal data you hold about her under Article 15 of the "
              "GDPR. A letter of authority is enclosed.\n\nYours faithfully,\nPekka Laine")


@pytest.fixture
def desk(tmp_path: Path, db: Database) -> tuple[Path, Settings]:
    return kit.staffed_desk(tmp_path, db, aino="approver")


@pytest.fixture
def web(desk: tuple[Path, Settings], db: Database) -> Iterator[TestClient]:
    with kit.client(desk[1], db) as c:
        yield c


def _lawyer_writes(db: Database, settings: Settings, body: str = FI_REQUEST) -> Case:
    deliver(db, settings, mail("Tietopyyntö", body, sender=f"Pekka Laine <{LAWYER}>",
                               attachment=AUTHORITY))
    return only_case(db)


def _sent(db: Database) -> list[tuple[str, str]]:
    return [(r.kind, r.recipient) for r in outbox_rows(db)]


def _audit(db: Database, action: str) -> list[AuditEntry]:
    with db.read_session() as s:
        return list(s.exec(select(AuditEntry).where(col(AuditEntry.action) == action)))


def _verify_and_approve(web: TestClient, db: Database, settings: Settings, cid: str) -> None:
    """Staff match the client on the desk (the authority names her) and approve; the sweep
    carries the case out."""
    token = kit.login(web, "aino")
    web.post(f"/cases/{cid}/verify", data={
        "csrf_token": token, "customer_number": "104233",
        "note": "the letter of authority names her; called her registered phone number"})
    assert web.post(f"/cases/{cid}/approve", data={"csrf_token": token}).status_code == 303
    run_once(db, settings)


def test_representative_gets_nothing_until_authority_checked(
    db: Database, desk: tuple[Path, Settings], web: TestClient, customer: int  # noqa: F811
) -> None:
    cfg, settings = desk
    case = _lawyer_writes(db, settings)
    assert case.on_behalf_of == LAWYER and case.authority == "to_check"
    assert "acting for another person: authority to be checked" in case.reasons
    assert case.customer_id is None and case.verification_level != "verified"
    # the authority document stays with the case, and staff see it
    assert ("acting for Maija Virtanen: authority to be checked (representative "
            f"{LAWYER})") in kit.dsrbot(cfg, "case", case.id).stdout
    shown = json.loads(kit.dsrbot(cfg, "case", case.id, "--json").stdout)
    assert shown["on_behalf_of"] == LAWYER
    assert shown["authority"]["documents"] == ["valtakirja.pdf"]
    listed = json.loads(kit.dsrbot(cfg, "cases", "--json").stdout)
    assert [row["on_behalf_of"] for row in listed] == [LAWYER]
    # only the receipt (it reveals nothing) went to the lawyer; no code to anyone
    assert _sent(db) == [("receipt", LAWYER)]
    # staff cannot send the answer to the lawyer before the authority is checked
    early = kit.dsrbot(cfg, "case", case.id, "--answer-to", "representative",
                       "--reason", "the lawyer asked", "--as", "aino")
    assert early.exit_code == 1 and "check the authority first" in early.output
    # approved before the check: the answer goes to the client's registered address
    _verify_and_approve(web, db, settings, case.id)
    assert _sent(db) == [("receipt", LAWYER), ("access_report", REGISTERED)]
    assert not [r for r in outbox_rows(db) if r.recipient == LAWYER and r.kind != "receipt"]


def test_after_the_check_the_representative_gets_the_answer_only_when_staff_choose_so(
    db: Database, desk: tuple[Path, Settings], web: TestClient, customer: int  # noqa: F811
) -> None:
    cfg, settings = desk
    case = _lawyer_writes(db, settings)
    checked = kit.dsrbot(cfg, "case", case.id, "--authority", "checked", "--document",
                         "valtakirja.pdf", "--reason", "signed by the client, ID attached",
                         "--as", "aino")
    assert checked.exit_code == 0, checked.output
    [entry] = _audit(db, "case.authority_checked")
    assert entry.actor == "staff:aino"
    assert entry.details["document_sha256"] == hashlib.sha256(AUTHORITY[0]).hexdigest()
    line = json.loads(kit.dsrbot(cfg, "case", case.id, "--json").stdout)["authority"]["line"]
    assert "authority checked by aino" in line and "valtakirja.pdf" in line
    assert line.endswith("answers go to the data subject's registered address")
    chosen = kit.dsrbot(cfg, "case", case.id, "--answer-to", "representative", "--reason",
                        "the client asks us to answer her lawyer", "--as", "aino")
    assert chosen.exit_code == 0, chosen.output
    assert _audit(db, "case.answer_recipient")[0].details["to"] == "representative"
    _verify_and_approve(web, db, settings, case.id)
    assert _sent(db) == [("receipt", LAWYER), ("access_report", LAWYER)]


def test_refused_authority_sends_the_representative_a_neutral_letter(
    db: Database, desk: tuple[Path, Settings], web: TestClient, customer: int  # noqa: F811
) -> None:
    settings = desk[1]
    case = _lawyer_writes(db, settings, EN_REQUEST)
    token = kit.login(web, "aino")
    page = web.get(f"/cases/{case.id}").text
    assert "acting for Maija Virtanen" in page and f'action="/cases/{case.id}/authority"' in page
    web.post(f"/cases/{case.id}/authority", data={
        "csrf_token": token, "outcome": "refused", "document": "",
        "reason": "the letter of authority is not signed"})
    with db.read_session() as s:
        [letter] = s.exec(select(OutboundMessage).where(
            col(OutboundMessage.kind) == "authority_refused")).all()
    assert letter.recipient == LAWYER
    assert "authority" in letter.subject.lower() or "behalf" in letter.subject.lower()
    for personal in ("Maija", "Virtanen", "104233", REGISTERED.lower()):
        assert personal not in letter.body_text and personal not in letter.subject
    assert _audit(db, "case.authority_refused")[0].actor == "staff:aino"
    assert only_case(db).authority == "refused"
    assert "authority refused by aino" in web.get(f"/cases/{case.id}").text
