"""The desk shows a bounce as `dsrbot case` does (the undeliverable warning, the status and the
diagnostic, masked for a viewer) and takes a bounced case out of delivery_failed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.settings import Settings
from storage import outbox
from storage.cases import transition
from storage.db import Database
from storage.models import AuditEntry, Case, CaseStatus, Customer, OutboundState
from tests import web_kit as kit

DIAGNOSTIC = (f"550 5.1.1 <{kit.REGISTERED}>: Recipient address rejected: "
              "User unknown in virtual mailbox table")


@pytest.fixture
def desk(tmp_path: Path, db: Database) -> tuple[Path, Settings]:
    return kit.staffed_desk(tmp_path, db, aino="approver", ville="viewer")


@pytest.fixture
def web(desk: tuple[Path, Settings], db: Database) -> Iterator[TestClient]:
    with kit.client(desk[1], db) as c:
        yield c


@pytest.fixture
def bounced(db: Database) -> str:
    """A done access case whose report bounced at the registered address (as
    handlers.bounces.record_bounce leaves it: see test_bounces for the DSN itself)."""
    customer_id = kit.add_customer(db)
    case_id = kit.make_case(db, customer_id=customer_id, signature="valid")
    now = datetime.now(UTC)
    with db.session() as s:
        case = s.get(Case, case_id)
        customer = s.get(Customer, customer_id)
        assert case is not None and customer is not None
        transition(s, case, CaseStatus.APPROVED, actor="staff:aino", reasons=["approved"])
        letter = outbox.enqueue(s, kind="access_report", recipient=kit.REGISTERED,
                                subject="Tietopyyntö", body_text="report", domain="rusttet.fi",
                                case_id=case_id)
        transition(s, case, CaseStatus.DONE, actor="bot", reasons=["access: done"])
        letter.state, letter.bounced_at = OutboundState.BOUNCED.value, now
        letter.bounce_status, letter.bounce_diagnostic = "5.1.1", DIAGNOSTIC
        customer.email_undeliverable_at, customer.email_undeliverable_status = now, "5.1.1"
        transition(s, case, CaseStatus.DELIVERY_FAILED, actor="bot", reasons=[
            "the letter of today to the registered address bounced (5.1.1)"])
    return case_id


def test_desk_case_page_warns_the_registered_email_is_undeliverable_and_shows_the_bounce(
        web: TestClient, bounced: str) -> None:
    kit.login(web, "aino")
    html = web.get(f"/cases/{bounced}").text
    assert "registered email address is undeliverable since" in html
    assert "5.1.1: 550 5.1.1 &lt;maija.virtanen@example.fi&gt;: Recipient address rejected" in html
    assert f'action="/cases/{bounced}/delivered"' in html
    assert f'action="/cases/{bounced}/resend"' in html
    web.post("/logout", data={"csrf_token": kit.csrf_of(html)})

    kit.login(web, "ville")
    html = web.get(f"/cases/{bounced}").text
    assert "registered email address is undeliverable since" in html
    assert "Recipient address rejected" in html and kit.REGISTERED not in html
    assert f'action="/cases/{bounced}/delivered"' not in html


def test_bounced_case_is_closed_from_the_desk_after_posting_the_letter(
        web: TestClient, bounced: str, db: Database) -> None:
    token = kit.login(web, "ville")
    denied = web.post(f"/cases/{bounced}/delivered", data={"csrf_token": token,
                                                            "note": "posted"})
    assert denied.status_code == 403
    web.post("/logout", data={"csrf_token": token})

    token = kit.login(web, "aino")
    empty = web.post(f"/cases/{bounced}/delivered", data={"csrf_token": token, "note": " "})
    assert empty.status_code in (303, 409)
    with db.read_session() as s:
        assert (s.get(Case, bounced) or Case()).status == CaseStatus.DELIVERY_FAILED
    same = web.post(f"/cases/{bounced}/resend", data={"csrf_token": token})
    assert "still the one that bounced" in web.get(same.headers.get(
        "location", f"/cases/{bounced}")).text or "still the one that bounced" in same.text
    done = web.post(f"/cases/{bounced}/delivered", data={
        "csrf_token": token, "note": "access report posted to Hämeenkatu on 2026-12-07"})
    assert done.status_code == 303
    with db.read_session() as s:
        case = s.get(Case, bounced)
        assert case is not None and case.status == CaseStatus.DONE
        actors = [(e.actor, e.action) for e in s.exec(select(AuditEntry).where(
            col(AuditEntry.case_id) == bounced)).all()]
    assert ("staff:aino", "case.delivered_another_way") in actors
    assert ("staff:ville", "case.denied") in actors
