"""The transactional outbox: a letter commits with its cause, is claimed once, retried, audited."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from storage.cases import create_case
from storage.db import Database
from storage.models import AuditEntry, Case, OutboundAttachment, OutboundMessage
from storage.outbox import (
    Backoff,
    OutAttachment,
    UnsafeValue,
    claim_due,
    enqueue,
    load_mail,
    mark_failed_attempt,
    mark_sent,
    next_due_at,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOMAIN = "rusttet.fi"


def _case(session: Session) -> str:
    case = create_case(session, types=["access"], requester="maija@example.fi", language="fi",
                       received_at=T0, due_date=date(2026, 4, 2))
    return case.id


def _enqueue(session: Session, **overrides: object) -> OutboundMessage:
    values: dict[str, object] = {
        "kind": "receipt", "recipient": "maija@example.fi", "subject": "Kuittaus",
        "body_text": "Hei", "domain": DOMAIN, "now": T0,
    }
    values.update(overrides)
    return enqueue(session, **values)  # type: ignore[arg-type]


def _rows(db: Database) -> list[OutboundMessage]:
    with db.read_session() as s:
        return list(s.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))).all())


def _actions(db: Database) -> list[str]:
    with db.read_session() as s:
        return [e.action for e in s.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()]


def test_letter_rolls_back_with_the_change_that_caused_it(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        case_id = _case(s)
        _enqueue(s, case_id=case_id)
        raise RuntimeError("the case change failed after the letter was written")
    assert _rows(db) == []
    with db.read_session() as s:
        assert s.exec(select(Case)).all() == []
    assert "outbox.enqueued" not in _actions(db)


def test_letter_commits_with_its_case_and_is_audited_without_personal_data(db: Database
                                                                          ) -> None:
    with db.session() as s:
        case_id = _case(s)
        row = _enqueue(s, case_id=case_id, subject="Re: pyyntö", in_reply_to="<req@example.fi>",
                       references=["<root@example.fi>"])
    [stored] = _rows(db)
    assert stored.id == row.id and stored.state == "pending" and stored.attempts == 0
    assert stored.subject == f"[{case_id}] Re: pyyntö"
    assert stored.headers == {"In-Reply-To": "<req@example.fi>",
                              "References": "<root@example.fi> <req@example.fi>"}
    assert stored.message_id.startswith(f"<dsrbot.{case_id}.")
    assert stored.message_id.endswith("@rusttet.fi>")
    with db.read_session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "outbox.enqueued")).one()
    assert entry.case_id == case_id
    assert entry.details == {"outbound_id": row.id, "kind": "receipt", "attachments": 0}
    assert "@" not in json.dumps(entry.details)


def test_message_ids_are_unique_and_name_no_case_when_there_is_none(db: Database) -> None:
    with db.session() as s:
        ids = {_enqueue(s).message_id for _ in range(20)}
    assert len(ids) == 20
    assert all(i.startswith("<dsrbot.x.") for i in ids)


def test_case_tag_is_not_added_twice(db: Database) -> None:
    with db.session() as s:
        case_id = _case(s)
        row = _enqueue(s, case_id=case_id, subject=f"Re: [{case_id}] Kuittaus")
    assert row.subject == f"Re: [{case_id}] Kuittaus"


@pytest.mark.parametrize("recipient", ["maija@example.fi\r\nBcc: victim@example.com",
                                       "maija@example.fi, victim@example.com",
                                       "Maija <maija@example.fi>", "not-an-address"])
def test_unsendable_recipient_is_refused_and_nothing_is_stored(db: Database,
                                                              recipient: str) -> None:
    with pytest.raises(UnsafeValue), db.session() as s:
        _enqueue(s, recipient=recipient)
    assert _rows(db) == []


def test_bad_message_id_domain_is_refused(db: Database) -> None:
    with pytest.raises(UnsafeValue), db.session() as s:
        _enqueue(s, domain="rusttet.fi>\r\nBcc: x")


def test_hostile_subject_is_stored_on_one_line(db: Database) -> None:
    with db.session() as s:
        row = _enqueue(s, subject="Hi\r\nBcc: victim@example.com\x00")
    assert row.subject == "Hi Bcc: victim@example.com"


def test_nul_in_request_text_quoted_in_the_body_is_stored(db: Database) -> None:
    with db.session() as s:
        _enqueue(s, body_text="you wrote: a\x00b", body_html="<p>a\x00b</p>")
    [row] = _rows(db)
    assert row.body_text == "you wrote: ab" and row.body_html == "<p>ab</p>"


def test_attachments_keep_their_bytes_and_order(db: Database) -> None:
    blob = bytes(range(256)) * 40
    with db.session() as s:
        row = _enqueue(s, attachments=[OutAttachment("report.pdf", "application/pdf", blob),
                                       OutAttachment("../x.json", "application/json", b"{}")])
        assert row.id is not None
        outbound_id = row.id
    with db.session() as s:
        [mail] = claim_due(s, T0, 10)
        assert s.exec(select(OutboundAttachment)).all()[0].outbound_id == outbound_id
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("report.pdf", "application/pdf", blob), ("x.json", "application/json", b"{}")]
    with db.read_session() as s:
        again = load_mail(s, outbound_id)
    assert again is not None and again.attachments == mail.attachments


def test_claim_takes_due_rows_once_and_leases_them(db: Database) -> None:
    with db.session() as s:
        first = _enqueue(s)
        _enqueue(s, now=T0 + timedelta(hours=1))  # not yet due at T0
    with db.session() as s:
        claimed = claim_due(s, T0, 10, lease=timedelta(minutes=5))
    assert [m.outbound_id for m in claimed] == [first.id]
    assert claimed[0].attempts == 1 and claimed[0].message_id == first.message_id
    with db.session() as s:
        assert claim_due(s, T0 + timedelta(minutes=1), 10) == []
    with db.read_session() as s:
        assert next_due_at(s) == T0 + timedelta(minutes=5)
    # The sender died: when the lease runs out the row is due again, same Message-ID.
    with db.session() as s:
        again = claim_due(s, T0 + timedelta(minutes=5), 1)
    assert [m.message_id for m in again] == [first.message_id]
    assert again[0].attempts == 2


def test_claims_are_oldest_first_and_limited(db: Database) -> None:
    with db.session() as s:
        ids = [_enqueue(s, now=T0 - timedelta(minutes=i)).id for i in range(5)]
    with db.session() as s:
        claimed = claim_due(s, T0, 3)
    assert [m.outbound_id for m in claimed] == list(reversed(ids))[:3]


def test_sent_row_is_not_claimed_again_and_sending_is_audited(db: Database) -> None:
    with db.session() as s:
        case_id = _case(s)
        row = _enqueue(s, case_id=case_id)
        assert row.id is not None
    with db.session() as s:
        claim_due(s, T0, 10)
        assert mark_sent(s, row.id, now=T0) is True
    with db.session() as s:
        assert mark_sent(s, row.id, now=T0) is False  # idempotent
        assert claim_due(s, T0 + timedelta(days=1), 10) == []
    [stored] = _rows(db)
    assert stored.state == "sent" and stored.sent_at == T0
    assert _actions(db).count("outbox.sent") == 1


def test_failed_attempt_backs_off_exponentially_within_the_cap(db: Database) -> None:
    backoff = Backoff(base=timedelta(seconds=30), cap=timedelta(minutes=10))
    rng = random.Random(4)
    with db.session() as s:
        row = _enqueue(s)
        assert row.id is not None
    now = T0
    delays = []
    for _ in range(7):
        with db.session() as s:
            assert len(claim_due(s, now, 1)) == 1
            failed = mark_failed_attempt(s, row.id, reason="smtp 451", max_attempts=12, now=now,
                                         backoff=backoff, rng=rng)
            assert failed is not None and failed.state == "pending"
            delays.append((failed.next_attempt_at - now).total_seconds())
            now = failed.next_attempt_at
    for attempt, delay in enumerate(delays, start=1):
        raw = min(600, 30 * 2 ** (attempt - 1))
        assert raw / 2 <= delay <= raw
    assert delays[-1] <= 600
    assert _actions(db).count("outbox.retry") == 7


def test_backoff_spreads_rows_that_failed_together() -> None:
    rng = random.Random(1)
    delays = {Backoff().delay(5, rng) for _ in range(20)}
    assert len(delays) > 10


def test_row_fails_after_max_attempts_and_is_audited(db: Database) -> None:
    with db.session() as s:
        case_id = _case(s)
        row = _enqueue(s, case_id=case_id)
        assert row.id is not None
    now = T0
    for _ in range(3):
        with db.session() as s:
            assert len(claim_due(s, now, 1)) == 1
            failed = mark_failed_attempt(s, row.id, reason="relay unreachable: OSError",
                                         error="Connection refused", max_attempts=3, now=now)
            assert failed is not None
            now = failed.next_attempt_at
    [stored] = _rows(db)
    assert stored.state == "failed" and stored.attempts == 3
    assert stored.last_error == "Connection refused"
    with db.read_session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "outbox.failed")).one()
    assert entry.case_id == case_id
    assert entry.details["reason"] == "relay unreachable: OSError"
    assert entry.details["attempts"] == 3
    with db.session() as s:
        assert claim_due(s, now + timedelta(days=1), 10) == []


def test_permanent_refusal_fails_at_once(db: Database) -> None:
    with db.session() as s:
        row = _enqueue(s)
        assert row.id is not None
    with db.session() as s:
        claim_due(s, T0, 1)
        failed = mark_failed_attempt(s, row.id, reason="smtp 550 recipient refused",
                                     permanent=True, max_attempts=12, now=T0)
    assert failed is not None and failed.state == "failed" and failed.attempts == 1


def test_letter_that_cannot_be_delivered_is_reported_to_staff(db: Database) -> None:
    from storage.models import ChatNotification

    with db.session() as s:
        row = _enqueue(s)
        assert row.id is not None
    with db.session() as s:
        claim_due(s, T0, 1)
        mark_failed_attempt(s, row.id, reason="smtp 550 recipient refused", permanent=True,
                            max_attempts=12, now=T0)
    with db.read_session() as s:
        notes = s.exec(select(ChatNotification)).all()
    assert len(notes) == 1
    text = notes[0].payload["text"]
    assert f"outbox #{row.id}" in text and "smtp 550" in text
    assert row.recipient not in text  # ids and reasons only, never the address


def test_row_whose_last_attempt_never_reported_fails_instead_of_looping(db: Database) -> None:
    with db.session() as s:
        _enqueue(s)
    now = T0
    for _ in range(2):  # two senders died mid-delivery
        with db.session() as s:
            assert len(claim_due(s, now, 1, max_attempts=2)) == 1
        now += timedelta(hours=1)
    with db.session() as s:
        assert claim_due(s, now, 1, max_attempts=2) == []
    [stored] = _rows(db)
    assert stored.state == "failed"
    assert "outbox.failed" in _actions(db)


def test_concurrent_claimers_never_share_a_row_on_postgresql(pg_database: str) -> None:
    from storage import migrate
    migrate.upgrade(pg_database)
    db = Database(pg_database)
    try:
        with db.session() as s:
            for _ in range(6):
                _enqueue(s)
        with Session(db.engine) as first, Session(db.engine) as second:
            a = claim_due(first, T0, 3)  # rows locked, transaction still open
            b = claim_due(second, T0, 10)  # SKIP LOCKED: takes only the others
            second.commit()
            first.commit()
        ids_a = {m.outbound_id for m in a}
        ids_b = {m.outbound_id for m in b}
        assert len(ids_a) == 3 and len(ids_b) == 3 and not ids_a & ids_b
    finally:
        db.dispose()
