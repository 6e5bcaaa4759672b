"""The real python-telegram-bot, polling a fake Bot API over HTTP on loopback.

These are the staff chat's promises end to end: a new case appears with its buttons, only an
approver's tap decides, a double tap acts once, a stranger or a viewer changes nothing (and is
in the audit log), and a Telegram outage delays messages but never cases.
"""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from bot.chat.telegram_app import TelegramChat
from handlers import cases as engine
from storage import chat_outbox
from storage.db import Database
from storage.models import Case, Customer
from tests.fixtures import chat_env
from tests.fixtures.chat_env import (
    APPROVER_ID,
    SECOND_APPROVER_ID,
    STRANGER_ID,
    VIEWER_ID,
    audit_entries,
    case_message,
    chat_settings,
    eventually,
    get_case,
    make_case,
)
from tests.fixtures.fake_telegram import STAFF_CHAT_ID, FakeTelegram

fake = chat_env.fake
running_chat = chat_env.running_chat


def _buttons(sent: dict[str, str]) -> list[list[tuple[str, str]]]:
    markup = json.loads(sent["reply_markup"])
    return [[(b["text"], b["callback_data"]) for b in row] for row in markup["inline_keyboard"]]


async def test_new_case_arrives_as_a_message_with_the_decision_buttons(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    case_id = make_case(db, types=("access", "erasure"))
    running_chat.notifier.wake()
    sent = (await fake.wait_for("sendMessage"))[0]
    assert sent["chat_id"] == str(STAFF_CHAT_ID)
    text = sent["text"]
    assert case_id in text and "awaiting approval" in text
    assert "access, erasure" in text and "Language: fi" in text
    assert "Identity: verified" in text and "Signature: valid" in text
    assert "access 91 %" in text and "needs staff approval" in text
    assert "Due: " in text and "Received: " in text
    buttons = _buttons(sent)
    assert [data for row in buttons for _, data in row] == [
        f"approve:{case_id}", f"refuse:{case_id}", f"ask:{case_id}", f"extend:{case_id}",
        f"assign:{case_id}", f"details:{case_id}"]
    assert [label for row in buttons for label, _ in row][-1] == "Details"


async def test_approve_tap_by_an_approver_changes_the_case_and_edits_the_message(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    case_id = make_case(db)
    running_chat.notifier.wake()
    await fake.wait_for("sendMessage")
    message_id, _ = case_message(fake, case_id)
    fake.push_callback(APPROVER_ID, STAFF_CHAT_ID, message_id, f"approve:{case_id}")
    answer = (await fake.wait_for("answerCallbackQuery"))[0]
    assert "approved by anna" in answer["text"]
    await fake.wait_for("editMessageText")
    edited = fake.message(STAFF_CHAT_ID, message_id)
    assert "✅ approved" in edited.text and "Approved by anna" in edited.text
    assert "approve:" not in json.dumps(edited.reply_markup)
    assert get_case(db, case_id).status == "approved"
    approvals = [e for e in audit_entries(db, "case.status") if e.details.get("to") == "approved"]
    assert [e.actor for e in approvals] == ["staff:anna"]


async def test_approve_tap_by_a_stranger_changes_nothing_and_is_audited(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    case_id = make_case(db)
    running_chat.notifier.wake()
    await fake.wait_for("sendMessage")
    message_id, before = case_message(fake, case_id)
    fake.push_callback(STRANGER_ID, STAFF_CHAT_ID, message_id, f"approve:{case_id}")
    answer = (await fake.wait_for("answerCallbackQuery"))[0]
    assert "not on dsrbot's staff list" in answer["text"]
    assert answer["show_alert"] == "true"
    assert get_case(db, case_id).status == "awaiting_approval"
    denied = audit_entries(db, "case.denied")
    assert len(denied) == 1
    assert denied[0].actor == f"telegram:{STRANGER_ID}"
    assert denied[0].case_id == case_id
    assert denied[0].details == {"attempted": "approve", "reason": "unknown",
                                 "channel": "telegram", "telegram_user_id": STRANGER_ID}
    assert fake.message(STAFF_CHAT_ID, message_id).text == before


async def test_approve_tap_by_a_viewer_changes_nothing_and_is_audited(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    case_id = make_case(db)
    running_chat.notifier.wake()
    await fake.wait_for("sendMessage")
    message_id, _ = case_message(fake, case_id)
    fake.push_callback(VIEWER_ID, STAFF_CHAT_ID, message_id, f"approve:{case_id}")
    answer = (await fake.wait_for("answerCallbackQuery"))[0]
    assert "look at cases but not decide" in answer["text"]
    assert get_case(db, case_id).status == "awaiting_approval"
    denied = audit_entries(db, "case.denied")
    assert [(e.actor, e.details["reason"]) for e in denied] == [("staff:ville", "not_approver")]


async def test_double_tap_approves_once(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    case_id = make_case(db)
    running_chat.notifier.wake()
    await fake.wait_for("sendMessage")
    message_id, _ = case_message(fake, case_id)
    fake.push_callback(APPROVER_ID, STAFF_CHAT_ID, message_id, f"approve:{case_id}")
    fake.push_callback(SECOND_APPROVER_ID, STAFF_CHAT_ID, message_id, f"approve:{case_id}")
    answers = await fake.wait_for("answerCallbackQuery", 2)
    assert "approved by anna" in answers[0]["text"]
    assert "already approved by anna" in answers[1]["text"]
    approvals = [e for e in audit_entries(db, "case.status") if e.details.get("to") == "approved"]
    assert len(approvals) == 1
    await fake.wait_for("editMessageText")
    assert fake.message(STAFF_CHAT_ID, message_id).text.count("Approved by") == 1


async def test_refuse_asks_for_the_reason_and_the_reply_refuses_with_it(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    case_id = make_case(db)
    running_chat.notifier.wake()
    await fake.wait_for("sendMessage")
    message_id, _ = case_message(fake, case_id)
    fake.push_callback(APPROVER_ID, STAFF_CHAT_ID, message_id, f"refuse:{case_id}")
    prompt = (await fake.wait_for("sendMessage", 2))[1]
    assert prompt["text"].startswith(f"⛔ Refuse {case_id}:")
    assert json.loads(prompt["reply_markup"])["force_reply"] is True
    assert get_case(db, case_id).status == "awaiting_approval"
    prompt_id = max(mid for (_, mid) in fake.messages)
    fake.push_text(APPROVER_ID, "The request names no customer of ours", reply_to=prompt_id)
    await fake.wait_for("editMessageText")
    case = get_case(db, case_id)
    assert case.status == "refused"
    assert case.refusal_reason == "The request names no customer of ours"
    assert "Refused by anna: The request names no customer of ours" in fake.message(
        STAFF_CHAT_ID, message_id).text


async def test_refusal_prompt_for_an_unverified_case_says_the_letter_is_neutral(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    verified_id = make_case(db)
    unverified_id = make_case(db, verified=False)
    running_chat.notifier.wake()
    await fake.wait_for("sendMessage", 2)
    prompts = {}
    for case_id in (verified_id, unverified_id):
        message_id, _ = case_message(fake, case_id)
        sent = len(fake.calls_to("sendMessage"))
        fake.push_callback(APPROVER_ID, STAFF_CHAT_ID, message_id, f"refuse:{case_id}")
        prompts[case_id] = (await fake.wait_for("sendMessage", sent + 1))[-1]["text"]
    assert prompts[unverified_id].startswith(f"⛔ Refuse {unverified_id}:")
    assert "neutral letter" in prompts[unverified_id]
    assert "told it in the refusal letter" not in prompts[unverified_id]
    assert "told it in the refusal letter" in prompts[verified_id]


async def test_telegram_down_delays_the_message_but_not_the_case(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    fake.down = True
    case_id = make_case(db)
    running_chat.notifier.wake()

    def attempted() -> bool:
        with db.read_session() as s:
            rows = chat_outbox.notifications_for(s, case_id)
            return bool(rows) and rows[0].attempts >= 1 and rows[0].last_error is not None

    await eventually(attempted)
    with db.read_session() as s:
        row = chat_outbox.notifications_for(s, case_id)[0]
    assert row.state == "pending" and "NetworkError" in (row.last_error or "")
    # Cases go on without the chat: a decision on the console works meanwhile.
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        engine.approve(s, case, actor="staff:otto")
    fake.down = False
    running_chat.notifier.clock = lambda: row.next_attempt_at
    running_chat.notifier.wake()

    def delivered() -> bool:
        with db.read_session() as s:
            return [r.state for r in chat_outbox.notifications_for(s, case_id)] == ["sent"]

    await eventually(delivered)
    _, text = case_message(fake, case_id)
    assert text.startswith(f"✅ approved · {case_id}") and "Approved by otto" in text


async def test_service_starts_while_telegram_is_down_and_connects_later(
    fake: FakeTelegram, db: Database
) -> None:
    fake.down = True
    component = TelegramChat(chat_settings(db, fake), db, poll_interval=0.1)
    await component.start()  # returns although getMe fails
    try:
        await fake.wait_for("getMe")
        fake.down = False
        await fake.wait_for("getUpdates", timeout=15)
    finally:
        await component.stop()


def test_the_service_runs_the_chat_when_the_backend_is_telegram(
    fake: FakeTelegram, db: Database
) -> None:
    from bot.service import build_components
    from bot.settings import ConfigError

    settings = chat_settings(db, fake)
    settings.mail.receiver.enabled = False
    assert "telegram" in [c.name for c in build_components(settings, db)]
    settings.chat.backend = "console"
    assert "telegram" not in [c.name for c in build_components(settings, db)]
    settings.chat.backend = "telegram"
    settings.chat.token = None
    with pytest.raises(ConfigError, match=r"chat\.token"):
        build_components(settings, db)


async def test_apply_ban_tap_sets_the_ban_on_the_customer_the_mail_names(
    fake: FakeTelegram, db: Database, running_chat: TelegramChat
) -> None:
    # A ban asked from an address not in the register, naming one customer: one tap applies it.
    case_id = make_case(db, types=("marketing_optout",), verified=False)
    with db.session() as s:
        case = s.get(Case, case_id)
        named = s.exec(select(Customer)).one()
        assert case is not None and named.id is not None
        case.details = {**case.details, "identity": {"candidate_ids": [named.id]}}
        s.add(case)
    running_chat.notifier.wake()
    sent = (await fake.wait_for("sendMessage"))[0]
    assert f"ban:{case_id}" in [data for row in _buttons(sent) for _, data in row]
    message_id, _ = case_message(fake, case_id)
    fake.push_callback(APPROVER_ID, STAFF_CHAT_ID, message_id, f"ban:{case_id}")
    answer = (await fake.wait_for("answerCallbackQuery"))[0]
    assert "marketing_optout applied for customer" in answer["text"]
    with db.read_session() as s:
        assert s.exec(select(Customer)).one().marketing_ban is True
    assert get_case(db, case_id).status == "done"
