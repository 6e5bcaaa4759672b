"""The chat outbox: every case change reaches the staff chat, late rather than never.

The notifier is driven one tick at a time (``deliver_once``) with a clock the test moves, and
talks HTTP to the fake Bot API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.chat.notifier import MAX_REFUSED_ATTEMPTS
from bot.chat.telegram_app import TelegramChat
from handlers import cases as engine
from storage import chat_outbox
from storage.db import Database
from storage.models import Case, ChatNotification
from tests.fixtures import chat_env
from tests.fixtures.chat_env import case_message, get_case, make_case
from tests.fixtures.fake_telegram import STAFF_CHAT_ID, FakeTelegram

fake = chat_env.fake
chat = chat_env.chat


@pytest.fixture
def db(sqlite_db: Database) -> Database:
    return sqlite_db


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(chat: TelegramChat) -> Clock:
    c = Clock()
    chat.notifier.clock = c
    return c


def _rows(db: Database, case_id: str) -> list[ChatNotification]:
    with db.read_session() as s:
        return list(chat_outbox.notifications_for(s, case_id))


async def test_a_new_case_is_found_by_the_sweep_and_posted_once(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    assert await chat.notifier.deliver_once() == 1
    assert await chat.notifier.deliver_once() == 0
    assert len(fake.calls_to("sendMessage")) == 1
    assert [r.state for r in _rows(db, case_id)] == ["sent"]


async def test_a_decision_on_the_console_edits_the_chat_message(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    await chat.notifier.deliver_once()
    message_id, _ = case_message(fake, case_id)
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        engine.refuse(s, case, reason="Not a customer", actor="staff:otto")
    await chat.notifier.deliver_once()
    [edit] = fake.calls_to("editMessageText")
    assert edit["message_id"] == str(message_id)
    assert "Refused by otto: Not a customer" in fake.message(STAFF_CHAT_ID, message_id).text


async def test_several_rows_for_one_case_become_one_edit(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    await chat.notifier.deliver_once()
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        engine.assign(s, case, staff="anna", actor="staff:anna",
                      now=datetime.now(UTC))
        for _ in range(3):
            chat_outbox.enqueue(s, case_id=case_id, now=clock.now)
    await chat.notifier.deliver_once()
    assert len(fake.calls_to("editMessageText")) == 1
    assert all(r.state == "sent" for r in _rows(db, case_id))


async def test_telegram_down_keeps_the_row_pending_with_backoff(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    fake.down = True
    await chat.notifier.deliver_once()
    [row] = _rows(db, case_id)
    assert row.state == "pending" and row.attempts == 1
    assert row.next_attempt_at > clock.now
    assert get_case(db, case_id).status == "awaiting_approval"
    await chat.notifier.deliver_once()  # not due yet: nothing is tried
    assert len(fake.calls_to("sendMessage")) == 1
    fake.down = False
    clock.now = row.next_attempt_at
    await chat.notifier.deliver_once()
    assert [r.state for r in _rows(db, case_id)] == ["sent"]


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")  # PTB's retry_after type
async def test_retry_after_from_telegram_is_respected(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 42",
              parameters={"retry_after": 42})
    await chat.notifier.deliver_once()
    [row] = _rows(db, case_id)
    assert row.state == "pending"
    assert row.next_attempt_at == clock.now + timedelta(seconds=42)


async def test_a_message_telegram_refuses_is_given_up_after_a_few_attempts(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    fake.fail("sendMessage", 400, "Bad Request: chat not found", times=MAX_REFUSED_ATTEMPTS)
    for _ in range(MAX_REFUSED_ATTEMPTS):
        await chat.notifier.deliver_once()
        clock.advance(timedelta(hours=1))
    [row] = _rows(db, case_id)
    assert row.state == "failed" and "chat not found" in (row.last_error or "").lower()
    await chat.notifier.deliver_once()  # the sweep does not bring the same version back
    assert len(_rows(db, case_id)) == 1
    with db.session() as s:  # a later change of the case is tried again
        case = s.get(Case, case_id)
        assert case is not None
        engine.assign(s, case, staff="anna", actor="staff:anna",
                      now=datetime.now(UTC))
    clock.advance(timedelta(seconds=1))
    await chat.notifier.deliver_once()
    assert [r.state for r in _rows(db, case_id)] == ["failed", "sent"]


async def test_a_deleted_chat_message_is_posted_again(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    await chat.notifier.deliver_once()
    old_id, _ = case_message(fake, case_id)
    del fake.messages[(STAFF_CHAT_ID, old_id)]
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        engine.assign(s, case, staff="anna", actor="staff:anna",
                      now=datetime.now(UTC))
    await chat.notifier.deliver_once()
    new_id, text = case_message(fake, case_id)
    assert new_id != old_id and "Assigned to: anna" in text
    with db.read_session() as s:
        link = chat_outbox.message_for(s, case_id, STAFF_CHAT_ID)
        assert link is not None and link.message_id == new_id


async def test_an_unchanged_case_is_not_modified_without_error(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    await chat.notifier.deliver_once()
    with db.session() as s:
        chat_outbox.enqueue(s, case_id=case_id, now=clock.now)
    await chat.notifier.deliver_once()
    assert all(r.state == "sent" for r in _rows(db, case_id))


async def test_a_closed_case_never_shown_is_not_posted(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    case_id = make_case(db)
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        engine.withdraw(s, case, actor="dsrbot")
    assert await chat.notifier.deliver_once() == 0
    assert fake.calls_to("sendMessage") == []


async def test_a_text_notification_is_posted(
    fake: FakeTelegram, db: Database, chat: TelegramChat, clock: Clock
) -> None:
    with db.session() as s:
        chat_outbox.enqueue(s, kind=chat_outbox.KIND_TEXT,
                            payload={"text": "Outgoing mail has failed 12 times"}, now=clock.now)
    await chat.notifier.deliver_once()
    assert fake.calls_to("sendMessage")[0]["text"] == "Outgoing mail has failed 12 times"
