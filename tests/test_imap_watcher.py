"""The IMAP watcher against a real Dovecot: nothing lost, nothing hidden from people.

info@ is also the customer-service mailbox, so the watcher stores everything it sees, marks
nothing as read, and moves out of INBOX only what the pipeline made part of a case.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot.mail.imap_watcher import PROCESSED_KEYWORD, ImapWatcher
from bot.settings import Settings
from storage import inbox
from storage.cases import create_case
from storage.db import Database
from storage.models import ImapState, InboundMessage, InboundState
from tests.conftest import missing_service
from tests.fixtures.dovecot import (  # noqa: F401  (fixtures)
    DovecotServer,
    dovecot,
    dovecot_server,
)


def _settings(server: DovecotServer, folder: str = "dsrbot/processed") -> Settings:
    settings = Settings()
    imap = settings.mail.imap
    imap.enabled = True
    imap.host, imap.port, imap.ssl = server.host, server.port, False
    imap.username, imap.password = server.user, SecretStr(server.password)
    imap.processed_folder = folder
    imap.poll_seconds = 0.5
    return settings


def _mail(n: int, subject: str = "Tietopyyntö") -> bytes:
    return (
        f"From: Maija <maija{n}@example.fi>\r\nTo: info@rusttet.fi\r\n"
        f"Subject: {subject} {n}\r\nMessage-ID: <imap-{n}@example.fi>\r\n"
        f"Date: Wed, 25 Nov 2026 10:00:00 +0200\r\n\r\nHaluan tarkastaa tietoni ({n}).\r\n"
    ).encode()


def _rows(db: Database) -> list[InboundMessage]:
    with db.read_session() as session:
        return list(session.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all())


async def _until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _mailbox(server: DovecotServer, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    """UID -> flags of every message in ``folder``, read without changing anything."""
    client = server.client()
    try:
        if not client.folder_exists(folder):
            return {}
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        return {uid: data[b"FLAGS"] for uid, data in client.fetch(uids, ["FLAGS"]).items()}
    finally:
        client.logout()


@pytest.fixture
async def watcher(dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
                  ) -> AsyncIterator[ImapWatcher]:
    w = ImapWatcher(_settings(dovecot), sqlite_db, backoff_initial=0.2, backoff_max=1.0)
    await w.start()
    await _until(w.connected.is_set)
    yield w
    await w.stop()


def _make_case(db: Database, row_id: int) -> None:
    """What the pipeline does for a request: a case, and the row processed with its id."""
    with db.session() as session:
        row = session.get(InboundMessage, row_id)
        assert row is not None
        case = create_case(session, types=["access"], requester="maija@example.fi",
                           language="fi", received_at=datetime.now(UTC),
                           due_date=date(2026, 12, 28))
        inbox.mark(session, row, InboundState.PROCESSED, ["request"], case_id=case.id)


async def _sync_after(w: ImapWatcher) -> None:
    before = w.syncs
    w.wake()
    await _until(lambda: w.syncs > before + 1)


async def test_appended_message_is_stored_and_left_unread(
    watcher: ImapWatcher, dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    calls: list[int] = []
    watcher._notify = lambda: calls.append(1)
    dovecot.append(_mail(1))
    await _until(lambda: len(_rows(sqlite_db)) == 1)
    (row,) = _rows(sqlite_db)
    assert row.channel == "imap"
    assert row.message_id == "<imap-1@example.fi>"
    assert row.imap_mailbox == "INBOX" and row.imap_uid == 1
    assert row.received_at.tzinfo is not None
    assert calls == [1]
    flags = _mailbox(dovecot)
    assert list(flags) == [1]
    assert b"\\Seen" not in flags[1]


async def test_mail_that_is_not_a_request_stays_in_inbox_unseen(
    watcher: ImapWatcher, dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    dovecot.append(_mail(1, subject="Kysymys tilauksesta"))
    await _until(lambda: len(_rows(sqlite_db)) == 1)
    with sqlite_db.session() as session:
        row = session.get(InboundMessage, _rows(sqlite_db)[0].id)
        assert row is not None
        inbox.mark(session, row, InboundState.PROCESSED, ["not a data request"])
    await _sync_after(watcher)
    flags = _mailbox(dovecot)
    assert list(flags) == [1]
    assert b"\\Seen" not in flags[1] and PROCESSED_KEYWORD.encode() not in flags[1]
    assert _mailbox(dovecot, "dsrbot.processed") == {}


async def test_a_request_is_moved_only_after_it_became_a_case(
    watcher: ImapWatcher, dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    dovecot.append(_mail(1))
    dovecot.append(_mail(2, subject="Uutiskirje"))
    await _until(lambda: len(_rows(sqlite_db)) == 2)
    await _sync_after(watcher)
    assert sorted(_mailbox(dovecot)) == [1, 2]  # stored is not enough to move
    _make_case(sqlite_db, _rows(sqlite_db)[0].id or 0)
    watcher.wake()
    await _until(lambda: sorted(_mailbox(dovecot)) == [2])
    moved = _mailbox(dovecot, "dsrbot.processed")
    assert len(moved) == 1
    assert b"\\Seen" not in next(iter(moved.values()))
    await _until(lambda: _rows(sqlite_db)[0].imap_moved_at is not None)


async def test_with_no_processed_folder_a_request_is_flagged_in_place(
    dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    w = ImapWatcher(_settings(dovecot, folder=""), sqlite_db, backoff_initial=0.2)
    await w.start()
    try:
        await _until(w.connected.is_set)
        dovecot.append(_mail(1))
        await _until(lambda: len(_rows(sqlite_db)) == 1)
        _make_case(sqlite_db, _rows(sqlite_db)[0].id or 0)
        w.wake()
        await _until(lambda: PROCESSED_KEYWORD.encode() in _mailbox(dovecot).get(1, ()))
        assert b"\\Seen" not in _mailbox(dovecot)[1]
    finally:
        await w.stop()


async def test_the_same_message_twice_in_the_mailbox_is_one_row(
    watcher: ImapWatcher, dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    dovecot.append(_mail(1))
    dovecot.append(_mail(1))
    dovecot.append(_mail(2))
    await _until(lambda: len(_rows(sqlite_db)) == 2)
    await _sync_after(watcher)
    assert len(_rows(sqlite_db)) == 2
    with sqlite_db.read_session() as session:
        (state,) = session.exec(select(ImapState)).all()
        assert state.last_uid == 3


async def test_dovecot_restart_during_idle_loses_nothing(
    watcher: ImapWatcher, dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    dovecot.append(_mail(1))
    dovecot.append(_mail(2))
    await _until(lambda: len(_rows(sqlite_db)) == 2)
    await asyncio.to_thread(dovecot.stop)  # the watcher is in IDLE: its connection drops
    await _until(lambda: not watcher.connected.is_set())
    await asyncio.to_thread(dovecot.start)
    dovecot.append(_mail(3))  # arrives while the watcher is still backing off
    dovecot.append(_mail(4))
    await _until(lambda: len(_rows(sqlite_db)) == 4)
    await asyncio.to_thread(dovecot.restart)
    dovecot.append(_mail(5))
    await _until(lambda: len(_rows(sqlite_db)) == 5)
    assert [r.message_id for r in _rows(sqlite_db)] == [
        f"<imap-{n}@example.fi>" for n in range(1, 6)]


async def test_a_new_uidvalidity_rereads_the_mailbox_without_duplicates(
    watcher: ImapWatcher, dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    for n in (1, 2):
        dovecot.append(_mail(n))
    await _until(lambda: len(_rows(sqlite_db)) == 2)
    await watcher.stop()
    with sqlite_db.session() as session:
        state = session.exec(select(ImapState)).one()
        inbox.advance_imap_state(session, state, state.uidvalidity + 1, 99)
    dovecot.append(_mail(3))
    await watcher.start()
    await _until(lambda: len(_rows(sqlite_db)) == 3)
    await _sync_after(watcher)
    assert len(_rows(sqlite_db)) == 3
    with sqlite_db.read_session() as session:
        assert session.exec(select(ImapState)).one().last_uid == 3


async def test_without_idle_the_watcher_polls(sqlite_db: Database) -> None:
    from tests.fixtures.dovecot import find_dovecot

    binary = find_dovecot()
    if binary is None:
        missing_service("Dovecot is not installed (apt-get install dovecot-imapd)")
    assert binary is not None
    server = DovecotServer(binary, extra_config="imap_capability = IMAP4rev1 NAMESPACE MOVE\n")
    server.start()
    w = ImapWatcher(_settings(server), sqlite_db, backoff_initial=0.2)
    try:
        await w.start()
        await _until(w.connected.is_set)
        server.append(_mail(1))
        await _until(lambda: len(_rows(sqlite_db)) == 1)
    finally:
        await w.stop()
        server.cleanup()


async def test_watcher_stores_into_postgresql_under_its_lock(
    dovecot: DovecotServer, db: Database  # noqa: F811
) -> None:
    first = ImapWatcher(_settings(dovecot), db, backoff_initial=0.2)
    second = ImapWatcher(_settings(dovecot), db, backoff_initial=0.2)
    await first.start()
    await second.start()
    try:
        await _until(lambda: first.connected.is_set() or second.connected.is_set())
        dovecot.append(_mail(1))
        await _until(lambda: len(_rows(db)) == 1)
        if db.engine.dialect.name == "postgresql":
            assert first.connected.is_set() != second.connected.is_set()
    finally:
        await first.stop()
        await second.stop()


async def test_first_start_leaves_mail_already_in_the_mailbox_to_people(
    dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    dovecot.append(_mail(1, "Vanha tilauskysymys"))
    w = ImapWatcher(_settings(dovecot), sqlite_db, backoff_initial=0.2, backoff_max=1.0)
    await w.start()
    try:
        await _until(w.connected.is_set)
        dovecot.append(_mail(2))
        await _until(lambda: len(_rows(sqlite_db)) == 1)
        await _sync_after(w)
        assert [r.message_id for r in _rows(sqlite_db)] == ["<imap-2@example.fi>"]
        assert list(_mailbox(dovecot)) == [1, 2]  # both still in INBOX, unread
    finally:
        await w.stop()


async def test_start_from_all_reads_the_mailbox_from_the_beginning(
    dovecot: DovecotServer, sqlite_db: Database  # noqa: F811
) -> None:
    dovecot.append(_mail(1))
    settings = _settings(dovecot)
    settings.mail.imap.start_from = "all"
    w = ImapWatcher(settings, sqlite_db, backoff_initial=0.2, backoff_max=1.0)
    await w.start()
    try:
        await _until(lambda: len(_rows(sqlite_db)) == 1)
        assert _rows(sqlite_db)[0].message_id == "<imap-1@example.fi>"
    finally:
        await w.stop()
