"""What staff see: masked personal data by default, the right buttons for the case's state."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.chat.render import (
    keyboard_for,
    mask_email,
    mask_number,
    mask_text,
    render_case,
    render_case_list,
    render_details,
)
from bot.chat.views import CaseView, HistoryItem
from handlers.cases.identity_summary import IdentitySummary
from storage.models import Case

TZ = "Europe/Helsinki"
TODAY = date(2026, 3, 10)


def _case(**overrides: object) -> Case:
    now = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    values: dict[str, object] = dict(
        id="DSR-2026-0007", types=["access", "erasure"], status="awaiting_approval",
        requester="maija.meikalainen@example.fi", language="fi", channel="email",
        customer_id=1, received_at=now, due_date=date(2026, 4, 2),
        verification_level="verified", signature_state="staff_to_check",
        reasons=["needs staff approval: access, erasure"],
        details={"classification": {"labels": ["access", "erasure"],
                                    "scores": {"access": 0.94, "erasure": 0.81, "other": 0.02},
                                    "needs_review": True},
                 "signature": {"state": "staff_to_check", "signer": "Maija Meikäläinen",
                               "reasons": ["scan of a hand-signed letter"]},
                 "entities": [{"label": "PHONE", "text": "+358401234567"}]},
        created_at=now, updated_at=now,
    )
    values.update(overrides)
    return Case(**values)


def _view(case: Case, history: tuple[HistoryItem, ...] = ()) -> CaseView:
    identity = IdentitySummary(level=case.verification_level, customer_id=42,
                               customer_number="100042",
                               verified=case.verification_level == "verified", events=())
    return CaseView(case=case, customer_number="100042", customer_name="Maija Meikäläinen",
                    customer_email="maija.meikalainen@example.fi", history=history,
                    identity=identity)


def test_email_is_masked_to_first_letters_and_top_level_domain() -> None:
    assert mask_email("maija.meikalainen@example.fi") == "m***@e***.fi"
    assert mask_email("x@localhost") == "x***@l***"
    assert mask_email("not an address") == "n*** a*** a***"
    assert mask_text("Maija Meikäläinen") == "M*** M***"
    assert mask_number("100042") == "***42"


def test_masked_message_holds_no_personal_data() -> None:
    text = render_case(_view(_case()), personal_data="masked", tz=TZ, today=TODAY).text
    for secret in ("maija", "Meikäläinen", "100042", "example", "+358"):
        assert secret not in text
    assert "From: m***@e***.fi" in text and "Customer: M*** M*** (no. ***42)" in text
    details = render_details(_view(_case()), personal_data="masked", tz=TZ, today=TODAY)
    for secret in ("maija", "Meikäläinen", "100042", "example", "+358"):
        assert secret not in details


def test_full_message_shows_personal_data_when_configured() -> None:
    text = render_details(_view(_case()), personal_data="full", tz=TZ, today=TODAY)
    assert "From: maija.meikalainen@example.fi" in text
    assert "Customer: Maija Meikäläinen (no. 100042)" in text
    assert "PHONE: +358401234567" in text


def test_message_shows_what_staff_need_at_a_glance() -> None:
    text = render_case(_view(_case()), personal_data="masked", tz=TZ, today=TODAY).text
    assert text.splitlines()[0] == "🟡 awaiting approval · DSR-2026-0007"
    assert "Asks: access, erasure" in text
    assert "Received: 02.03.2026 10:30" in text  # Helsinki time
    assert "Due: 02.04.2026 (23 days left)" in text
    assert "Identity: verified · Signature: staff to check" in text
    assert "Classifier: access 94 %, erasure 81 % · ⚠️ needs review" in text
    assert "• needs staff approval: access, erasure" in text


def test_card_links_to_the_case_page_on_the_desk() -> None:
    case = _case()
    text = render_case(_view(case), personal_data="masked", tz=TZ, today=TODAY,
                       desk_url="https://desk.example/").text
    assert f"Desk: https://desk.example/cases/{case.id}" in text
    plain = render_case(_view(case), personal_data="masked", tz=TZ, today=TODAY).text
    assert "Desk:" not in plain  # the desk is off: no link to a page nobody serves


def test_overdue_case_says_so() -> None:
    text = render_case(_view(_case()), personal_data="masked", tz=TZ,
                       today=date(2026, 4, 5)).text
    assert "OVERDUE by 3 days" in text


def test_history_shows_who_decided_what() -> None:
    history = (
        HistoryItem(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), "staff:anna", "case.assigned",
                    {"from": None, "to": "anna"}),
        HistoryItem(datetime(2026, 3, 3, 11, 0, tzinfo=UTC), "staff:otto", "case.status",
                    {"from": "awaiting_approval", "to": "refused",
                     "reasons": ["Not our customer"]}),
    )
    case = _case(status="refused")
    text = render_case(_view(case, history), personal_data="masked", tz=TZ, today=TODAY).text
    assert "👤 Assigned to anna by anna · 03.03. 12:00" in text
    assert "⛔ Refused by otto: Not our customer · 03.03. 13:00" in text


def _verbs(case: Case) -> list[str]:
    markup = keyboard_for(case)
    assert markup is not None
    return [str(b.callback_data).split(":")[0] for row in markup.inline_keyboard for b in row]


def test_buttons_follow_the_case_state() -> None:
    assert _verbs(_case()) == ["approve", "refuse", "ask", "extend", "assign", "details"]
    assert _verbs(_case(extended=True, extended_due_date=date(2026, 6, 2))) == [
        "approve", "refuse", "ask", "assign", "details"]
    assert _verbs(_case(status="approved")) == ["ask", "extend", "assign", "details"]
    for closed in ("done", "refused", "withdrawn"):
        assert _verbs(_case(status=closed)) == ["details"]


def test_callback_data_fits_telegrams_limit() -> None:
    markup = keyboard_for(_case(id="DSR-2026-123456"))
    assert markup is not None
    assert all(len(str(b.callback_data).encode()) <= 64
               for row in markup.inline_keyboard for b in row)


def test_long_reasons_never_make_a_message_telegram_refuses() -> None:
    case = _case(reasons=["x" * 5000] * 50)
    assert len(render_case(_view(case), personal_data="full", tz=TZ, today=TODAY).text) <= 4096
    assert len(render_details(_view(case), personal_data="full", tz=TZ, today=TODAY)) <= 4096


def test_case_list_has_no_personal_data() -> None:
    text = render_case_list([_case(), _case(id="DSR-2026-0008", assignee="anna")],
                            title="Open cases", today=TODAY)
    assert "DSR-2026-0007" in text and "DSR-2026-0008" in text and "anna" in text
    assert "maija" not in text and "example" not in text


def test_a_letter_without_an_email_address_says_so() -> None:
    case = _case(requester="manual.0123456789ab@intake.invalid", channel="manual")
    text = render_case(_view(case), personal_data="full", tz=TZ, today=TODAY).text
    assert "From: (no email address: came by letter or phone)" in text
