"""The durable inbox: stored once however often it arrives, claimed once however many workers."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage import inbox
from storage.cases import create_case
from storage.db import Database
from storage.models import InboundMessage, InboundState

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _raw(msgid: str | None = "<m1@example.fi>", body: str = "Haluan tietoni.",
         sender: str = "Maija@Example.fi") -> bytes:
    header = f"Message-ID: {msgid}\r\n" if msgid else ""
    return f"From: {sender}\r\n{header}Subject: x\r\n\r\n{body}\r\n".encode()


def _store(db: Database, raw: bytes, at: datetime = NOW) -> tuple[int, bool]:
    with db.session() as session:
        row, new = inbox.store_inbound(session, raw, channel="smtp", envelope_from="a@b.fi",
                                       envelope_to=["info@rusttet.fi"], received_at=at)
        assert row.id is not None
        return row.id, new


def _count(db: Database) -> int:
    with db.read_session() as session:
        return int(session.exec(select(func.count()).select_from(InboundMessage)).one())


def test_same_message_id_and_content_is_stored_once(db: Database) -> None:
    first = _store(db, _raw())
    second = _store(db, _raw())
    assert first == (first[0], True)
    assert second == (first[0], False)
    assert _count(db) == 1


def test_same_message_id_with_other_content_is_a_new_row(db: Database) -> None:
    _store(db, _raw(body="one"))
    _, new = _store(db, _raw(body="two"))
    assert new
    assert _count(db) == 2


def test_mail_without_message_id_dedupes_on_its_hash(db: Database) -> None:
    a, new_a = _store(db, _raw(msgid=None))
    b, new_b = _store(db, _raw(msgid=None))
    _, new_c = _store(db, _raw(msgid=None, body="other"))
    assert (new_a, new_b, new_c) == (True, False, True)
    assert a == b


def test_stored_row_keeps_bytes_envelope_and_sender_key(db: Database) -> None:
    raw = _raw()
    row_id, _ = _store(db, raw)
    with db.read_session() as session:
        row = session.get(InboundMessage, row_id)
        assert row is not None
        assert row.raw == raw
        assert row.message_id == "<m1@example.fi>"
        assert row.sha256 == inbox.content_hash(raw)
        assert row.envelope_to == ["info@rusttet.fi"]
        assert row.from_address == "maija@example.fi"
        assert row.state == InboundState.RECEIVED
        assert row.received_at == NOW


def test_concurrent_writers_of_the_same_message_make_one_row(db: Database) -> None:
    raw = _raw()
    barrier = threading.Barrier(4)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            barrier.wait()
            results.append(_store(db, raw))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({row_id for row_id, _ in results}) == 1
    assert sum(new for _, new in results) == 1
    assert _count(db) == 1


def test_claim_pending_returns_received_rows_oldest_first(db: Database) -> None:
    ids = [_store(db, _raw(msgid=f"<m{i}@x>"))[0] for i in range(3)]
    with db.session() as session:
        rows = inbox.claim_pending(session, 10)
        assert [r.id for r in rows] == ids
        inbox.mark(session, rows[0], InboundState.IGNORED, ["automatic message"])
    with db.session() as session:
        assert [r.id for r in inbox.claim_pending(session, 10)] == ids[1:]
        assert inbox.pending_ids(session, 1) == ids[1:2]


def test_claims_of_two_postgres_workers_do_not_overlap(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers instead")
    ids = [_store(db, _raw(msgid=f"<m{i}@x>"))[0] for i in range(4)]
    with db.session() as first, db.session() as second:
        a = [r.id for r in inbox.claim_pending(first, 2)]
        b = [r.id for r in inbox.claim_pending(second, 10)]
    assert a == ids[:2]
    assert b == ids[2:]


def test_mark_appends_reasons_and_records_the_outcome(db: Database) -> None:
    row_id, _ = _store(db, _raw())
    with db.session() as session:
        case = create_case(session, types=["access"], requester="maija@example.fi",
                           language="fi", received_at=NOW, due_date=date(2026, 12, 25))
        row = session.get(InboundMessage, row_id)
        assert row is not None
        inbox.mark(session, row, InboundState.RECEIVED, ["parsed"])
        inbox.mark(session, row, "processed", ["case opened"], case_id=case.id)
    with db.read_session() as session:
        row = session.get(InboundMessage, row_id)
        assert row is not None
        assert row.reasons == ["parsed", "case opened"]
        assert row.state == InboundState.PROCESSED
        assert row.case_id == case.id
        assert row.processed_at is not None


def test_mark_refuses_an_unknown_state(db: Database) -> None:
    row_id, _ = _store(db, _raw())
    with pytest.raises(ValueError), db.session() as session:
        row = session.get(InboundMessage, row_id)
        assert row is not None
        inbox.mark(session, row, "answered")


def test_recent_count_is_per_sender_and_window(db: Database) -> None:
    for i in range(3):
        _store(db, _raw(msgid=f"<r{i}@x>"), at=NOW - timedelta(minutes=10 * i))
    _store(db, _raw(msgid="<old@x>"), at=NOW - timedelta(hours=5))
    _store(db, _raw(msgid="<other@x>", sender="someone@example.fi"))
    with db.read_session() as session:
        assert inbox.recent_count(session, "MAIJA@example.fi", NOW - timedelta(hours=1)) == 3
        assert inbox.recent_count(session, "maija@example.fi", NOW - timedelta(hours=1),
                                  NOW - timedelta(minutes=5)) == 2
        assert inbox.recent_count(session, "", NOW - timedelta(days=1)) == 0


def test_imap_rows_are_moved_only_once_they_belong_to_a_case(db: Database) -> None:
    location = inbox.ImapLocation("INBOX", 77, 5)
    with db.session() as session:
        row, _ = inbox.store_inbound(session, _raw(), channel="imap", envelope_from="",
                                     envelope_to=[], received_at=NOW, imap=location)
        other, _ = inbox.store_inbound(session, _raw(msgid="<n@x>"), channel="imap",
                                       envelope_from="", envelope_to=[], received_at=NOW,
                                       imap=inbox.ImapLocation("INBOX", 77, 6))
        inbox.mark(session, other, InboundState.IGNORED, ["newsletter"])
        assert inbox.imap_rows_to_move(session, "INBOX", 77) == []
        case = create_case(session, types=["access"], requester="maija@example.fi",
                           language="fi", received_at=NOW, due_date=date(2026, 12, 25))
        inbox.mark(session, row, InboundState.PROCESSED, [], case_id=case.id)
        assert inbox.imap_rows_to_move(session, "INBOX", 77) == [(row.id, 5)]
        assert inbox.imap_rows_to_move(session, "INBOX", 78) == []
        inbox.mark_imap_moved(session, [row.id or 0])
        assert inbox.imap_rows_to_move(session, "INBOX", 77) == []


def test_refetch_after_uidvalidity_change_updates_the_location(db: Database) -> None:
    with db.session() as session:
        row, _ = inbox.store_inbound(session, _raw(), channel="imap", envelope_from="",
                                     envelope_to=[], received_at=NOW,
                                     imap=inbox.ImapLocation("INBOX", 1, 9))
        again, new = inbox.store_inbound(session, _raw(), channel="imap", envelope_from="",
                                         envelope_to=[], received_at=NOW,
                                         imap=inbox.ImapLocation("INBOX", 2, 3))
        assert again.id == row.id and not new
        assert (again.imap_uidvalidity, again.imap_uid) == (2, 3)


def test_imap_state_starts_unsynced_and_advances(db: Database) -> None:
    with db.session() as session:
        state = inbox.imap_state(session, "info@host:993", "INBOX")
        assert (state.uidvalidity, state.last_uid) == (0, 0)
        inbox.advance_imap_state(session, state, 123, 45)
    with db.session() as session:
        state = inbox.imap_state(session, "info@host:993", "INBOX")
        assert (state.uidvalidity, state.last_uid) == (123, 45)


def test_naive_receipt_time_is_refused(db: Database) -> None:
    with pytest.raises(ValueError), db.session() as session:
        inbox.store_inbound(session, _raw(), channel="file", envelope_from="", envelope_to=[],
                            received_at=datetime(2026, 1, 1))


def test_a_batch_is_deduped_against_the_inbox_and_itself(db: Database) -> None:
    earlier, _ = _store(db, _raw(msgid="<old@x>"))
    batch = [inbox.NewMessage(_raw(msgid=m), "file", NOW)
             for m in ("<a@x>", "<old@x>", "<b@x>", "<a@x>")]
    with db.session() as session:
        results = inbox.store_many(session, batch)
    assert [new for _, new in results] == [True, False, True, False]
    assert results[1][0] == earlier
    assert results[3][0] == results[0][0]
    assert _count(db) == 3
    with db.session() as session:
        again = inbox.store_many(session, batch)
    assert [new for _, new in again] == [False] * 4


def test_mark_many_records_each_outcome(db: Database) -> None:
    with db.session() as session:
        (a, _), (b, _) = inbox.store_many(session, [
            inbox.NewMessage(_raw(msgid="<a@x>"), "file", NOW),
            inbox.NewMessage(_raw(msgid="<b@x>"), "file", NOW)])
        inbox.mark_many(session, [(a, InboundState.IGNORED, ["automatic message"]),
                                  (b, InboundState.QUARANTINED, ["malformed message"])])
    with db.read_session() as session:
        rows = {r.id: r for r in session.exec(select(InboundMessage)).all()}
    assert (rows[a].state, rows[a].reasons) == ("ignored", ["automatic message"])
    assert rows[b].state == "quarantined" and rows[b].processed_at is not None
