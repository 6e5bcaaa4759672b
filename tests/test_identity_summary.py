"""One truth about identity: the console, the chat card, its Details and the reasons agree."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.chat.render import render_case, render_details
from bot.chat.views import load_case_view
from handlers.challenge import confirm_challenge, issue_challenge
from handlers.confirmation_letters import mail_due_confirmations, request_confirmation
from handlers.policy import IdentityPolicy, OrgInfo
from storage.db import Database
from storage.models import Case, Customer
from tests import web_kit
from tests.fixtures.chat_env import REQUESTER, make_case
from tests.helpers import run_cli

TZ = "Europe/Helsinki"


def _config(tmp_path: Path, db: Database) -> str:
    cfg = tmp_path / "dsrbot.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n', encoding="utf-8")
    return str(cfg)


def _views(db: Database, case_id: str, tmp_path: Path) -> dict[str, str]:
    with db.read_session() as s:
        view = load_case_view(s, case_id)
    assert view is not None
    today = datetime.now(UTC).date()
    shown = run_cli("--config", _config(tmp_path, db), "case", case_id)
    assert shown.exit_code == 0, shown.stderr
    record = json.loads(run_cli("--config", _config(tmp_path, db), "case", case_id,
                                "--json").stdout)
    return {"card": render_case(view, personal_data="full", tz=TZ, today=today).text,
            "details": render_details(view, personal_data="full", tz=TZ, today=today),
            "console": shown.stdout.split("audit trail:")[0],
            "json": json.dumps(record, ensure_ascii=False)}


def test_identity_views_agree_after_the_code_comes_back(db: Database, tmp_path: Path) -> None:
    case_id = make_case(db, verified=False)
    sent_at = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)  # 10:15 in Helsinki
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.customer_id is None
        # what intake records about the mail itself (the Details button shows it)
        case.details = {**case.details, "identity": {"level": "claimed", "candidates": 1}}
        s.add(case)
        customer = s.exec(select(Customer).where(Customer.email == REQUESTER)).one()
        _, code = issue_challenge(s, case, customer, sent_at)
        number = customer.customer_number
    before = _views(db, case_id, tmp_path)
    for name in ("card", "details", "console"):
        assert "no customer matched" not in before[name] and "not matched" not in before[name]
        assert number in before[name], name  # the customer the code went to, once matched
        assert "code sent to the registered address at 02.03.2026 10:15" in before[name], name
    assert "Identity: claimed" in before["card"] and "Identity: claimed" in before["details"]
    assert "identity:   claimed" in before["console"]

    with db.session() as s:
        result = confirm_challenge(s, case_id, code, sent_at + timedelta(hours=1),
                                   sender=REQUESTER)
        assert result.outcome == "ok"
    after = _views(db, case_id, tmp_path)
    for name in ("card", "details", "console"):
        assert "claimed" not in after[name], name
        assert "not verified" not in after[name], name
        assert number in after[name], name
        assert "code sent to the registered address at 02.03.2026 10:15" in after[name], name
        assert "code answered from the registered address at 02.03.2026 11:15" in after[name]
    assert "Identity: verified" in after["card"]
    assert "Identity: verified\n" in after["details"].split(after["card"])[1]
    assert "identity:   verified" in after["console"]
    assert '"customer_verified": true' in after["json"]


def _desk_page(db: Database, case_id: str, tmp_path: Path) -> str:
    cfg, settings = web_kit.write_settings(tmp_path, db)
    web_kit.add_staff(cfg, "aino", "approver")
    with web_kit.client(settings, db) as web:
        web_kit.login(web, "aino")
        page = web.get(f"/cases/{case_id}")
        assert page.status_code == 200
        return html.unescape(re.sub(r"<[^>]+>", " ", page.text))


def test_views_show_the_matched_customer_while_the_code_letter_waits_for_the_hour(
        db: Database, tmp_path: Path) -> None:
    """A second request within the hour waits for the hourly letter: every view names the
    customer the letter is for and says the letter is queued, then when it was sent."""
    first, held = make_case(db, verified=False), make_case(db, verified=False)
    queued_at = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)  # 10:15 in Helsinki
    org, identity = OrgInfo(), IdentityPolicy()
    with db.session() as s:
        customer = s.exec(select(Customer).where(Customer.email == REQUESTER)
                          .order_by(col(Customer.id))).first()
        assert customer is not None
        number = customer.customer_number
        for case_id in (first, held):
            case = s.get(Case, case_id)
            assert case is not None and case.status == "awaiting_identity"
            request_confirmation(s, org, identity, case, customer, queued_at)
    waiting = {**_views(db, held, tmp_path), "desk": _desk_page(db, held, tmp_path)}
    for name, text in waiting.items():
        assert "no customer matched" not in text and "not matched" not in text, name
        assert number in text, name
    for name in ("card", "details", "console", "desk"):
        assert ("code letter to the registered address queued for the hourly letter"
                in waiting[name]), name
        assert "at 02.03.2026 10:15" in waiting[name], name
    assert "queued 2026-03-02 10:15 for the hourly letter" in waiting["desk"]

    with db.session() as s:
        assert mail_due_confirmations(s, org, identity, queued_at + timedelta(minutes=61)) == 1
    mailed = {**_views(db, held, tmp_path), "desk": _desk_page(db, held, tmp_path)}
    for name in ("card", "details", "console", "desk"):
        assert number in mailed[name], name
        assert "code sent to the registered address at 02.03.2026 11:16" in mailed[name], name
