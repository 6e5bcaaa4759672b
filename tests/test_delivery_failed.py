"""A case whose answer bounced has a way out: staff send it again to the corrected registered
address, or record that they delivered it another way (by post); both audited, and
``dsrbot status`` no longer reports the bounce as unhandled."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, select

from bot.pipeline import run_once
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.execute import finish_decided
from storage import inbox
from storage.cases import transition
from storage.db import Database
from storage.models import AuditEntry, Case, CaseStatus, Customer, OutboundMessage
from tests.helpers import run_cli
from tests.rights_support import ORG, add_customer, open_case
from tests.test_bounces import dsn

STAFF = ('[[chat.staff]]\nname = "anna"\nrole = "approver"\n'
         '[[chat.staff]]\nname = "ville"\nrole = "viewer"\n')


def _config(tmp_path: Path, db: Database) -> str:
    cfg = tmp_path / "dsrbot.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n{STAFF}', encoding="utf-8")
    return str(cfg)


def _bounced_access_case(db: Database) -> tuple[str, int]:
    """A done access case whose report came back as a DSN through the real pipeline."""
    with db.session() as s:
        customer = add_customer(s)
        case = open_case(s, customer, ["access"])
        transition(s, case, CaseStatus.APPROVED, actor="staff:anna", reasons=["approved"])
        assert customer.id is not None
        case_id, customer_id = case.id, customer.id
    assert finish_decided(db, ORG, clock=FixedClock(datetime.now(UTC)))["done"] == 1
    with db.session() as s:
        report = s.exec(select(OutboundMessage).where(
            OutboundMessage.kind == "access_report")).one()
        inbox.store_inbound(s, dsn(f"Message-ID: {report.message_id}\r\n", report.recipient),
                            channel="smtp", envelope_from="", envelope_to=["info@rusttet.fi"],
                            received_at=datetime.now(UTC))
    settings = Settings()
    settings.database.url = db.url
    run_once(db, settings)
    with db.read_session() as s:
        assert _case(s, case_id).status == CaseStatus.DELIVERY_FAILED
    return case_id, customer_id


def _case(session: object, case_id: str) -> Case:
    found = session.get(Case, case_id)  # type: ignore[attr-defined]
    assert isinstance(found, Case)
    return found


def _problems(cfg: str) -> list[str]:
    result = run_cli("--config", cfg, "status", "--json")
    return list(json.loads(result.stdout)["health"]["problems"])


def _actions(db: Database, case_id: str) -> list[tuple[str, str]]:
    with db.read_session() as s:
        return [(e.actor, e.action) for e in s.exec(select(AuditEntry).where(
            col(AuditEntry.case_id) == case_id).order_by(col(AuditEntry.id))).all()]


def test_bounced_case_can_be_closed_after_posting_the_letter(
    db: Database, tmp_path: Path
) -> None:
    case_id, _ = _bounced_access_case(db)
    cfg = _config(tmp_path, db)
    assert any("bounces unhandled" in p for p in _problems(cfg))

    no_note = run_cli("--config", cfg, "delivered", case_id, "--note", "  ", "--as", "anna")
    assert no_note.exit_code == 1 and "note is required" in no_note.stderr
    viewer = run_cli("--config", cfg, "delivered", case_id, "--note", "posted", "--as", "ville")
    assert viewer.exit_code == 1 and "only an approver" in viewer.stderr
    with db.read_session() as s:
        assert _case(s, case_id).status == CaseStatus.DELIVERY_FAILED

    done = run_cli("--config", cfg, "delivered", case_id, "--as", "anna",
                   "--note", "report posted to the registered postal address on 2026-12-07")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == (f"{case_id}: recorded as delivered another way; "
                                   "the case is done")
    with db.read_session() as s:
        case = _case(s, case_id)
        assert case.status == CaseStatus.DONE and case.closed_at is not None
        assert any("delivered another way: report posted" in r for r in case.reasons)
    assert ("staff:anna", "case.delivered_another_way") in _actions(db, case_id)
    assert ("staff:ville", "case.denied") in _actions(db, case_id)
    assert not any("bounces unhandled" in p for p in _problems(cfg))
    again = run_cli("--config", cfg, "delivered", case_id, "--note", "posted", "--as", "anna")
    assert again.exit_code == 1 and "only a case whose answer bounced" in again.stderr


def test_bounced_answer_is_resent_only_to_the_corrected_registered_address(
    db: Database, tmp_path: Path
) -> None:
    case_id, customer_id = _bounced_access_case(db)
    cfg = _config(tmp_path, db)
    with db.read_session() as s:
        letters_before = len(s.exec(select(OutboundMessage)).all())

    again = run_cli("--config", cfg, "approve", case_id, "--as", "anna")
    assert again.exit_code == 1 and "send it again to the corrected" in again.stderr
    same = run_cli("--config", cfg, "resend", case_id, "--as", "anna")
    assert same.exit_code == 1 and "still the one that bounced" in same.stderr
    with db.read_session() as s:
        assert len(s.exec(select(OutboundMessage)).all()) == letters_before
        assert _case(s, case_id).status == CaseStatus.DELIVERY_FAILED

    with db.session() as s:  # the register is corrected (a rectification, or staff)
        customer = s.get(Customer, customer_id)
        assert customer is not None
        customer.email = customer.email_normalised = "maija.uusi@example.fi"
        s.add(customer)
    sent = run_cli("--config", cfg, "resend", case_id, "--as", "anna")
    assert sent.exit_code == 0, sent.stderr
    assert "sent again to the registered address; the case is done" in sent.stdout
    with db.read_session() as s:
        rows = s.exec(select(OutboundMessage).where(
            OutboundMessage.kind == "access_report").order_by(col(OutboundMessage.id))).all()
        case = _case(s, case_id)
        customer = s.get(Customer, customer_id)
    assert [(r.state, r.recipient) for r in rows][1:] == [("pending", "maija.uusi@example.fi")]
    assert rows[1].body_text == rows[0].body_text and rows[1].message_id in case.thread_message_ids
    assert case.status == CaseStatus.DONE
    assert customer is not None and customer.email_undeliverable_at is None
    assert ("staff:anna", "case.answer_resent") in _actions(db, case_id)
    assert not any("bounces unhandled" in p for p in _problems(cfg))
