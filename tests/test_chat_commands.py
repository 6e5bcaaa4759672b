"""Conversation tests: Update objects fed to ``Application.process_update``.

The bot's answers still travel over HTTP to the fake Bot API, where the tests read them.
"""

from __future__ import annotations

import asyncio
import email
import json
from datetime import UTC, date, datetime
from email import policy

import pytest
from sqlmodel import col, select

from bot.chat.telegram_app import NEW_PROMPT, TelegramChat
from handlers import representation
from storage.db import Database
from storage.models import Case, InboundMessage, OutboundMessage
from tests.fixtures import chat_env
from tests.fixtures.chat_env import (
    APPROVER_ID,
    REQUESTER,
    STRANGER_ID,
    VIEWER_ID,
    audit_entries,
    feed,
    get_case,
    last_sent_text,
    make_case,
)
from tests.fixtures.fake_telegram import STAFF_CHAT_ID, FakeTelegram

fake = chat_env.fake
chat = chat_env.chat


@pytest.fixture
def db(sqlite_db: Database) -> Database:
    """SQLite only here: the PostgreSQL paths (row locks, double taps) are in test_chat_telegram."""
    return sqlite_db

OTHER_GROUP = -1009999999999


async def test_cases_lists_open_cases_without_personal_data(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    first, second = make_case(db), make_case(db, types=("erasure",))
    await feed(chat, fake.text_update(VIEWER_ID, "/cases"))
    text = last_sent_text(fake)
    assert text.startswith("Open cases (2):")
    assert first in text and second in text and "erasure" in text
    assert "maija" not in text.lower() and "example" not in text


async def test_case_command_shows_the_case_masked_by_default(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(VIEWER_ID, f"/case {case_id.lower()}"))
    text = last_sent_text(fake)
    assert case_id in text
    assert "From: m***@e***.fi" in text
    assert "Customer: M*** M*** (no. ***00)" in text
    assert REQUESTER not in text and "Meikäläinen" not in text
    assert "Scores: access 0.91, other 0.04" in text


async def test_full_personal_data_when_the_settings_say_so(
    fake: FakeTelegram, db: Database
) -> None:
    case_id = make_case(db)
    component = TelegramChat(chat_env.chat_settings(db, fake, personal_data="full"), db)
    await component.application.initialize()
    try:
        await feed(component, fake.text_update(APPROVER_ID, f"/case {case_id}"))
    finally:
        await component.application.shutdown()
    text = last_sent_text(fake)
    assert f"From: {REQUESTER}" in text
    assert "Customer: Maija Meikäläinen (no. 100000)" in text


async def test_approve_command_by_an_approver_approves(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(APPROVER_ID, f"/approve {case_id}"))
    assert last_sent_text(fake) == f"{case_id} approved by anna"
    assert get_case(db, case_id).status == "approved"
    await feed(chat, fake.text_update(APPROVER_ID, f"/approve {case_id}"))
    assert last_sent_text(fake) == f"{case_id} already approved by anna"


async def test_approve_command_refuses_what_the_case_engine_forbids(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db, verified=False)
    await feed(chat, fake.text_update(APPROVER_ID, f"/approve {case_id}"))
    assert "cannot be approved: identity not verified" in last_sent_text(fake)
    assert get_case(db, case_id).status == "awaiting_identity"


async def test_viewer_may_look_but_not_decide(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    for command in (f"/approve {case_id}", f"/refuse {case_id} no", f"/extend {case_id} many",
                    f"/assign {case_id}"):
        await feed(chat, fake.text_update(VIEWER_ID, command))
        assert "not decide" in last_sent_text(fake)
    case = get_case(db, case_id)
    assert case.status == "awaiting_approval" and not case.extended and case.assignee is None
    assert [e.details["attempted"] for e in audit_entries(db, "case.denied")] == [
        "approve", "refuse", "extend", "assign"]


async def test_stranger_is_refused_politely_and_audited_by_telegram_id_only(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    update = fake.text_update(STRANGER_ID, f"/case {case_id}")
    update["message"]["from"]["first_name"] = "Eve"
    update["message"]["from"]["username"] = "eve_the_snoop"
    await feed(chat, update)
    assert "not on dsrbot's staff list" in last_sent_text(fake)
    assert case_id not in last_sent_text(fake)
    [entry] = audit_entries(db, "case.denied")
    assert entry.actor == f"telegram:{STRANGER_ID}"
    assert "Eve" not in json.dumps(entry.details) and "eve" not in entry.actor


async def test_staff_commands_in_another_group_are_refused(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(APPROVER_ID, f"/case {case_id}", chat_id=OTHER_GROUP))
    assert "only work in the staff chat" in last_sent_text(fake)
    assert [e.details["reason"] for e in audit_entries(db, "case.denied")] == ["wrong_chat"]


async def test_private_chat_with_staff_works(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    make_case(db)
    await feed(chat, fake.text_update(VIEWER_ID, "/cases", chat_id=VIEWER_ID))
    assert last_sent_text(fake).startswith("Open cases (1):")


async def test_refuse_command_needs_a_reason(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(APPROVER_ID, f"/refuse {case_id}"))
    assert last_sent_text(fake).startswith("Usage: /refuse DSR-2026-0001 the reason")
    await feed(chat, fake.text_update(APPROVER_ID, f"/refuse {case_id}   Not our customer."))
    assert last_sent_text(fake) == f"{case_id} refused by anna"
    assert get_case(db, case_id).refusal_reason == "Not our customer."


async def test_extend_command_extends_with_the_reason(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(APPROVER_ID, f"/extend {case_id} Numerous requests"))
    assert f"{case_id} extended until" in last_sent_text(fake)
    case = get_case(db, case_id)
    assert case.extended and case.extension_reason == "Numerous requests"
    await feed(chat, fake.text_update(APPROVER_ID, f"/extend {case_id} again"))
    assert "already extended by anna" in last_sent_text(fake)


async def test_received_command_sets_the_receipt_date_back(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db, received_at=datetime(2026, 3, 2, 9, tzinfo=UTC))
    await feed(chat, fake.text_update(APPROVER_ID, f"/received {case_id} 10.2.2026 found it"))
    assert "YYYY-MM-DD" in last_sent_text(fake)
    await feed(chat, fake.text_update(
        APPROVER_ID, f"/received {case_id} 2026-02-10 first request found in the mailbox"))
    assert last_sent_text(fake) == f"{case_id}: received on 2026-02-10, due 2026-03-10"
    case = get_case(db, case_id)
    assert case.due_date == date(2026, 3, 10)
    assert "receipt date set back to 2026-02-10: first request found" in case.reasons[-1]


async def test_assign_command_assigns_to_the_one_who_asks(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(APPROVER_ID, f"/assign {case_id}"))
    assert last_sent_text(fake) == f"{case_id} assigned to anna"
    assert get_case(db, case_id).assignee == "anna"


async def test_bad_case_id_gets_usage_and_unknown_case_says_so(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    await feed(chat, fake.text_update(APPROVER_ID, "/approve 12"))
    assert last_sent_text(fake) == "Usage: /approve DSR-2026-0001"
    await feed(chat, fake.text_update(APPROVER_ID, "/approve DSR-2026-9999"))
    assert last_sent_text(fake) == "There is no case DSR-2026-9999."


async def test_due_lists_cases_due_within_the_days_asked(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(VIEWER_ID, "/due 3"))
    assert last_sent_text(fake) == "Overdue or due within 3 days: none."
    await feed(chat, fake.text_update(VIEWER_ID, "/due 40"))
    assert case_id in last_sent_text(fake)
    await feed(chat, fake.text_update(VIEWER_ID, "/due soon"))
    assert last_sent_text(fake).startswith("Usage: /due")


async def test_details_button_sends_the_details(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(VIEWER_ID, f"/case {case_id}"))
    message_id = max(mid for (_, mid) in fake.messages)
    await feed(chat, fake.callback_update(VIEWER_ID, STAFF_CHAT_ID, message_id,
                                          f"details:{case_id}"))
    assert "Scores:" in last_sent_text(fake)


async def test_ask_for_information_mails_the_question_to_the_requester(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(APPROVER_ID, f"/case {case_id}"))
    message_id = max(mid for (_, mid) in fake.messages)
    await feed(chat, fake.callback_update(APPROVER_ID, STAFF_CHAT_ID, message_id,
                                          f"ask:{case_id}"))
    assert last_sent_text(fake).startswith(f"✉️ Ask {case_id}:")
    prompt_id = max(mid for (_, mid) in fake.messages)
    await feed(chat, fake.text_update(
        APPROVER_ID, "Which of your orders do you mean?", reply_to=prompt_id))
    assert last_sent_text(fake) == f"{case_id}: question mailed to the requester"
    with db.read_session() as s:
        [mail] = s.exec(select(OutboundMessage).where(
            col(OutboundMessage.kind) == "information_request")).all()
    assert mail.recipient == REQUESTER and mail.case_id == case_id
    assert "Which of your orders do you mean?" in mail.body_text
    [entry] = audit_entries(db, "case.information_requested")
    assert entry.actor == "staff:anna" and "orders" not in json.dumps(entry.details)


async def test_reply_to_a_prompt_by_a_viewer_is_refused(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(APPROVER_ID, f"/case {case_id}"))
    message_id = max(mid for (_, mid) in fake.messages)
    await feed(chat, fake.callback_update(APPROVER_ID, STAFF_CHAT_ID, message_id,
                                          f"refuse:{case_id}"))
    prompt_id = max(mid for (_, mid) in fake.messages)
    await feed(chat, fake.text_update(VIEWER_ID, "no", reply_to=prompt_id))
    assert "not decide" in last_sent_text(fake)
    assert get_case(db, case_id).status == "awaiting_approval"


async def test_new_with_text_stores_a_manual_inbound_message(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    await feed(chat, fake.text_update(
        APPROVER_ID, "/new Maija Meikäläinen phoned: please delete all my data."))
    assert last_sent_text(fake).startswith("Stored as manual request #")
    with db.read_session() as s:
        [row] = s.exec(select(InboundMessage)).all()
    assert row.channel == "manual" and row.state == "received"
    parsed = email.message_from_bytes(row.raw, policy=policy.default)
    assert parsed["From"].addresses[0].domain == "intake.invalid"
    assert parsed["X-Dsrbot-Entered-By"] == "anna"
    body = parsed.get_body(("plain",))
    assert body is not None and "please delete all my data" in body.get_content()
    [entry] = audit_entries(db, "inbound.manual")
    assert entry.actor == "staff:anna" and entry.details["inbound_id"] == row.id


async def test_new_with_the_requesters_address_uses_it_as_sender(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    await feed(chat, fake.text_update(APPROVER_ID, f"/new {REQUESTER} wants a copy of data"))
    with db.read_session() as s:
        [row] = s.exec(select(InboundMessage)).all()
    parsed = email.message_from_bytes(row.raw, policy=policy.default)
    assert parsed["From"].addresses[0].addr_spec == REQUESTER


async def test_new_with_a_photo_of_the_signed_letter_attaches_it(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"letter" * 100
    fake.add_file("photo-big", "photos/file_1.jpg", jpeg)
    photo = [{"file_id": "photo-small", "file_unique_id": "s", "width": 90, "height": 90},
             {"file_id": "photo-big", "file_unique_id": "b", "width": 1280, "height": 1707}]
    await feed(chat, fake.text_update(APPROVER_ID, "", extra={
        "photo": photo, "caption": "/new Signed letter asking to see my data"}))
    assert last_sent_text(fake).startswith("Stored as manual request #")
    with db.read_session() as s:
        [row] = s.exec(select(InboundMessage)).all()
    parsed = email.message_from_bytes(row.raw, policy=policy.default)
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "image/jpeg"
    assert attachment.get_content() == jpeg


async def test_new_without_text_prompts_and_the_reply_with_a_pdf_is_stored(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    await feed(chat, fake.text_update(APPROVER_ID, "/new"))
    assert last_sent_text(fake) == NEW_PROMPT
    prompt_id = max(mid for (_, mid) in fake.messages)
    pdf = b"%PDF-1.7\n%signed letter\n%%EOF\n"
    fake.add_file("doc-1", "documents/file_2.pdf", pdf)
    document = {"file_id": "doc-1", "file_unique_id": "d1", "file_name": "kirje.pdf",
                "mime_type": "application/pdf", "file_size": len(pdf)}
    await feed(chat, fake.text_update(APPROVER_ID, "", reply_to=prompt_id, extra={
        "document": document, "caption": "Tarkastuspyyntö kirjeitse"}))
    with db.read_session() as s:
        [row] = s.exec(select(InboundMessage)).all()
    parsed = email.message_from_bytes(row.raw, policy=policy.default)
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "kirje.pdf"
    assert attachment.get_content() == pdf


async def test_new_refuses_other_file_types_and_stores_nothing(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    document = {"file_id": "doc-2", "file_unique_id": "d2", "file_name": "x.exe",
                "mime_type": "application/x-msdownload", "file_size": 10}
    await feed(chat, fake.text_update(APPROVER_ID, "", extra={
        "document": document, "caption": "/new see attachment"}))
    assert last_sent_text(fake) == "Not stored: please send the letter as a PDF or a photo."
    with db.read_session() as s:
        assert s.exec(select(InboundMessage)).all() == []


async def test_new_by_a_viewer_is_refused(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    await feed(chat, fake.text_update(VIEWER_ID, "/new somebody phoned"))
    assert "not decide" in last_sent_text(fake)
    with db.read_session() as s:
        assert s.exec(select(InboundMessage)).all() == []


async def test_a_phoned_in_request_goes_through_the_pipeline_and_reaches_the_chat(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    from bot.pipeline import process_pending

    await feed(chat, fake.text_update(
        APPROVER_ID, f"/new {REQUESTER} Soitti: pyytää jäljennöksen kaikista häntä koskevista "
                     "tiedoista rekisterissänne."))
    assert await asyncio.to_thread(process_pending, db, chat.settings) == {"processed": 1}
    with db.read_session() as s:
        [row] = s.exec(select(InboundMessage)).all()
    assert row.case_id is not None
    case = get_case(db, row.case_id)
    assert case.channel == "manual" and case.requester == REQUESTER
    await chat.notifier.deliver_once()
    text = last_sent_text(fake)
    assert text.splitlines()[0].endswith(case.id) and "Channel: manual" in text


async def test_a_letter_without_an_email_address_goes_through_the_pipeline(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    from bot.pipeline import process_pending

    await feed(chat, fake.text_update(
        APPROVER_ID, "/new Hyvä asiakaspalvelu, pyydän saada jäljennöksen kaikista minua "
                     "koskevista tiedoista rekisterissänne. Maija Meikäläinen"))
    assert await asyncio.to_thread(process_pending, db, chat.settings) == {"processed": 1}
    with db.read_session() as s:
        [row] = s.exec(select(InboundMessage)).all()
    assert row.case_id is not None
    await chat.notifier.deliver_once()
    assert "From: (no email address: came by letter or phone)" in last_sent_text(fake)


async def test_bounced_case_is_closed_from_the_chat_after_posting_the_letter(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    from storage.cases import transition
    from storage.models import CaseStatus

    case_id = make_case(db)
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        for status in (CaseStatus.APPROVED, CaseStatus.DONE, CaseStatus.DELIVERY_FAILED):
            transition(s, case, status, actor="bot", reasons=[status.value])
    await feed(chat, fake.text_update(APPROVER_ID, f"/delivered {case_id}"))
    assert last_sent_text(fake).startswith("Usage: /delivered DSR-2026-0001 how and when")
    await feed(chat, fake.text_update(VIEWER_ID, f"/delivered {case_id} posted"))
    assert "not decide" in last_sent_text(fake)
    await feed(chat, fake.text_update(APPROVER_ID, f"/resend {case_id}"))
    assert last_sent_text(fake) == f"{case_id}: no bounced answer to send again"
    await feed(chat, fake.text_update(APPROVER_ID, f"/delivered {case_id} posted on 7.12."))
    assert last_sent_text(fake) == (f"{case_id}: recorded as delivered another way; "
                                    "the case is done")
    assert get_case(db, case_id).status == "done"
    assert [e.actor for e in audit_entries(db, "case.delivered_another_way")] == ["staff:anna"]


async def test_authority_of_a_representative_is_recorded_in_the_chat(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db, verified=False)
    with db.session() as s:
        found = s.get(Case, case_id)
        assert found is not None
        representation.flag(s, found, representative="pekka@lakilaine.fi",
                            person="Maija Virtanen", words="päämieheni Maija Virtasen puolesta",
                            documents=[])
    await feed(chat, fake.text_update(VIEWER_ID, f"/case {case_id}"))
    card = last_sent_text(fake)
    assert ("On behalf: acting for M*** V***: authority to be checked (representative "
            "p***@l***.fi)") in card
    assert "Maija" not in card and "pekka@" not in card  # the chat masks by default
    await feed(chat, fake.text_update(APPROVER_ID, f"/answerto {case_id} representative asked"))
    assert "check the authority first" in last_sent_text(fake)
    await feed(chat, fake.text_update(APPROVER_ID, f"/authority {case_id} maybe"))
    assert last_sent_text(fake).startswith("Usage: /authority")
    await feed(chat, fake.text_update(
        APPROVER_ID, f"/authority {case_id} checked valtakirja.pdf signed by the client"))
    assert last_sent_text(fake) == (f"{case_id}: authority checked on valtakirja.pdf; answers "
                                    "still go to the data subject's registered address")
    case = get_case(db, case_id)
    assert (case.authority, case.authority_by, case.authority_document) == (
        "checked", "staff:anna", "valtakirja.pdf")
    assert [e.actor for e in audit_entries(db, "case.authority_checked")] == ["staff:anna"]
    await feed(chat, fake.text_update(VIEWER_ID, f"/case {case_id}"))
    assert "authority checked by anna" in last_sent_text(fake)


async def test_chat_look_at_a_case_is_audited_with_who_looked(
    fake: FakeTelegram, db: Database, chat: TelegramChat
) -> None:
    case_id = make_case(db)
    await feed(chat, fake.text_update(VIEWER_ID, f"/case {case_id}"))
    looks = audit_entries(db, "case.viewed")
    assert [(e.actor, e.case_id, e.details) for e in looks] == [
        ("staff:ville", case_id, {"channel": "chat", "personal_data": False})]
