"""Backlog import: .eml files, maildirs and mbox files, deduped, triaged, summarised."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select

from bot.mail.ingest import MailItem, ingest_paths, iter_mbox, received_at
from bot.settings import Settings
from storage.db import Database
from storage.models import InboundMessage, InboundState
from tests.helpers import run_cli


def _mail(n: int, extra: str = "", sender: str | None = None) -> bytes:
    return (
        f"From: {sender or f'Person {n} <person{n}@example.fi>'}\r\nTo: info@rusttet.fi\r\n"
        f"Subject: Pyyntö {n}\r\nMessage-ID: <backlog-{n}@example.fi>\r\n"
        f"Date: Mon, 02 Nov 2026 09:00:00 +0200\r\n{extra}\r\n"
        f"Haluan tarkastaa tietoni.\r\nFrom the start of a line.\r\n"
    ).encode()


def _mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(str(path))
    try:
        for raw in messages:
            box.add(raw)
        box.flush()
    finally:
        box.close()
    return path


def _count(db: Database) -> int:
    with db.read_session() as session:
        return int(session.exec(select(func.count()).select_from(InboundMessage)).one())


def test_the_same_mbox_ingested_twice_adds_nothing_the_second_time(
    sqlite_db: Database, tmp_path: Path
) -> None:
    box = _mbox(tmp_path / "backlog.mbox", [_mail(n) for n in range(25)])
    env = {"DSRBOT_DATABASE__URL": sqlite_db.url}
    first = run_cli("ingest", "--store-only", str(box), env=env)
    assert first.exit_code == 0, first.output
    assert "25 message(s): 25 stored, 0 duplicate(s)" in first.output
    second = run_cli("ingest", "--store-only", str(box), env=env)
    assert second.exit_code == 0, second.output
    assert "25 message(s): 0 stored, 25 duplicate(s)" in second.output
    assert _count(sqlite_db) == 25


def test_mbox_messages_keep_their_bytes_and_body_from_lines(tmp_path: Path) -> None:
    box = _mbox(tmp_path / "m.mbox", [_mail(1), _mail(2)])
    items = list(iter_mbox(box))
    assert len(items) == 2
    assert items[0].raw.startswith(b"From: Person 1")
    assert b"From the start of a line." in items[0].raw  # quoted as >From by mbox
    assert items[0].delivered_at is not None


def test_maildir_eml_and_folders_are_all_read(sqlite_db: Database, tmp_path: Path) -> None:
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"))
    maildir.add(_mail(1))
    msg = mailbox.MaildirMessage(_mail(2))
    msg.set_subdir("cur")
    maildir.add(msg)
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "a.eml").write_bytes(_mail(3))
    (tmp_path / "loose" / "b.eml").write_bytes(_mail(4))
    summary = ingest_paths(sqlite_db, Settings(), [tmp_path / "Maildir", tmp_path / "loose"],
                           mode="store")
    assert (summary.messages, summary.stored, summary.pending) == (4, 4, 4)
    with sqlite_db.read_session() as session:
        channels = set(session.exec(select(InboundMessage.channel)).all())
    assert channels == {"file"}


def test_triage_leaves_robots_ignored_and_broken_mail_quarantined(
    sqlite_db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "1.eml").write_bytes(_mail(1))
    (folder / "2.eml").write_bytes(_mail(2, extra="Auto-Submitted: auto-replied\r\n"))
    (folder / "3.eml").write_bytes(_mail(3, extra="List-Id: <news.example.fi>\r\n"))
    (folder / "4.eml").write_bytes(_mail(4, sender="info@rusttet.fi"))
    (folder / "5.eml").write_bytes(b"")
    (folder / "6.eml").write_bytes(b"this is not a mail at all\n")
    summary = ingest_paths(sqlite_db, Settings(), [folder], mode="triage")
    assert summary.stored == 6
    assert (summary.pending, summary.ignored, summary.quarantined) == (1, 3, 2)
    with sqlite_db.read_session() as session:
        quarantined = session.exec(select(InboundMessage).where(
            col(InboundMessage.state) == InboundState.QUARANTINED)).all()
    assert all(r.reasons and r.reasons[0].startswith("malformed message") for r in quarantined)


def test_a_mail_twice_in_one_mbox_is_stored_once(sqlite_db: Database, tmp_path: Path) -> None:
    box = _mbox(tmp_path / "twice.mbox", [_mail(1), _mail(2), _mail(1)])
    summary = ingest_paths(sqlite_db, Settings(), [box], mode="store")
    assert (summary.messages, summary.stored, summary.duplicates) == (3, 2, 1)
    assert _count(sqlite_db) == 2


def test_receipt_time_comes_from_our_mail_system_not_the_import() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    received = (b"Received: from mx by mx.rusttet.fi; Tue, 03 Nov 2026 08:15:00 +0000\r\n"
                b"Received: from client; Tue, 03 Nov 2026 08:14:00 +0000\r\n")
    item = MailItem(received + _mail(1), None, None, 0)
    assert received_at(item, now) == datetime(2026, 11, 3, 8, 15, tzinfo=UTC)
    from_line = MailItem(_mail(1), datetime(2026, 11, 4, 7, 0, tzinfo=UTC), None, 0)
    assert received_at(from_line, now) == datetime(2026, 11, 4, 7, 0, tzinfo=UTC)
    dated = MailItem(_mail(1), None, None, 0)
    assert received_at(dated, now) == datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    future = MailItem(_mail(1).replace(b"2026", b"2031"), None, None, 0)
    assert received_at(future, now) == now


def test_a_missing_path_is_reported_and_the_rest_is_imported(
    sqlite_db: Database, tmp_path: Path
) -> None:
    (tmp_path / "one.eml").write_bytes(_mail(1))
    result = run_cli("ingest", "--store-only", str(tmp_path / "nope.mbox"),
                     str(tmp_path / "one.eml"), env={"DSRBOT_DATABASE__URL": sqlite_db.url})
    assert result.exit_code == 1
    assert "nope.mbox: no such file or directory" in result.output
    assert "1 message(s): 1 stored" in result.output
    assert _count(sqlite_db) == 1
