"""Retention by rule for dsrbot's own records (issue 17): other mail, report files, case files,
and the ``dsrbot purge`` command that runs what the scheduler runs daily."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.purge_job import PurgeJob
from handlers.policy import RecordRetention
from mailformat import OutAttachment
from storage import inbox, outbox, used_signatures
from storage.cases import create_case
from storage.db import Database
from storage.models import (
    AuditEntry,
    Case,
    CaseStatistic,
    CaseThreadRef,
    IdentityChallenge,
    InboundMessage,
    OutboundMessage,
    UsedSignature,
)
from tests.helpers import run_cli
from tests.retention_kit import (
    NOW,
    add_letter,
    close_case,
    days_ago,
    inbound,
    letter,
    mail_bytes,
    store_mail,
)

POLICY = RecordRetention()  # the defaults: 30 days, 30 days, 3 years
PHONE = "040 765 4321"


def _purge(db: Database, *, dry_run: bool = False) -> dict[str, int]:
    return PurgeJob(db, POLICY, batch=2).run(NOW, dry_run=dry_run).counts


def test_other_mail_raw_bytes_purged_after_retention(db: Database) -> None:
    old = mail_bytes("liisa@example.fi", "Do you sell spare blades? Call me on 040 765 4321.")
    with db.session() as s:
        left_for_people = store_mail(s, old, received_at=days_ago(31), state="processed")
        auto_reply = store_mail(s, mail_bytes("ooo@example.fi", "I am away"),
                                received_at=days_ago(45), state="ignored")
        recent = store_mail(s, mail_bytes("pekka@example.fi", "Price list?"),
                            received_at=days_ago(29), state="processed")
        held = store_mail(s, mail_bytes("x@example.fi", "Maybe erase?"),
                          received_at=days_ago(90), state="held")
    counts = _purge(db)
    assert counts["other_mail"] == 2
    gone = inbound(db, left_for_people)
    assert gone.raw == b"" and gone.from_address == "" and gone.envelope_from == ""
    assert gone.envelope_to == [] and gone.reasons == [] and gone.purged_at is not None
    # What dedupe and the statistics need stays.
    assert gone.message_id and gone.sha256 == inbox.content_hash(old)
    assert gone.state == "processed" and gone.received_at == days_ago(31)
    assert inbound(db, auto_reply).raw == b""
    assert inbound(db, recent).raw != b"" and inbound(db, held).raw != b""
    # The same mail delivered again (a relay's retry) is still a duplicate, not new mail.
    with db.session() as s:
        _, new = inbox.store_inbound(s, old, channel="smtp", envelope_from="",
                                     envelope_to=[], received_at=NOW)
    assert not new


def test_mail_filed_in_an_open_case_is_not_other_mail(db: Database) -> None:
    with db.session() as s:
        case = create_case(s, types=["access"], requester="maija@example.fi", language="fi",
                           received_at=days_ago(60), due_date=date(2026, 12, 20))
        row = store_mail(s, mail_bytes("maija@example.fi", "Send me my data"),
                         received_at=days_ago(60), state="processed", case_id=case.id)
    _purge(db)
    assert inbound(db, row).raw != b""


def test_report_attachments_purged_after_delivery(db: Database) -> None:
    with db.session() as s:
        case = create_case(s, types=["access"], requester="maija@example.fi", language="fi",
                           received_at=days_ago(60), due_date=date(2026, 12, 20))
        delivered = add_letter(s, case_id=case.id, recipient="maija@example.fi",
                               body="Your data: Maija", files={"report.pdf": b"%PDF Maija"},
                               sent_at=days_ago(31))
        fresh = add_letter(s, case_id=case.id, recipient="maija@example.fi", body="Again",
                           files={"report2.pdf": b"%PDF Maija 2"}, sent_at=days_ago(5))
        pending = add_letter(s, case_id=case.id, recipient="maija@example.fi", body="Later",
                             files={"report3.pdf": b"%PDF Maija 3"})
    assert _purge(db)["report_attachments"] == 1
    row, files = letter(db, delivered)
    assert row is not None and row.body_text == "Your data: Maija"  # the text stays
    assert [(f.filename, f.data) for f in files] == [("report.pdf", b"")]
    assert letter(db, fresh)[1][0].data == b"%PDF Maija 2"
    assert letter(db, pending)[1][0].data == b"%PDF Maija 3"


def _forward(s: object, inbound_id: int, *, written: int, state: str) -> int:
    """A forward to customer service as the pipeline writes it: her mail attached whole."""
    row = outbox.enqueue(s, kind="forward", recipient="asiakaspalvelu@rusttet.fi",  # type: ignore[arg-type]
                         subject=f"Fwd: Tilaus 4411, soita {PHONE}", domain="rusttet.fi",
                         body_text="dsrbot forwards it because it is not a request",
                         attachments=[OutAttachment("original.eml", "message/rfc822",
                                                    mail_bytes("liisa@example.fi", PHONE))],
                         dedupe_key=f"forward:{inbound_id}", inbound_id=inbound_id,
                         now=days_ago(written))
    row.state = state
    s.add(row)  # type: ignore[attr-defined]
    assert row.id is not None
    return row.id


def test_forward_that_never_went_out_is_purged_after_other_mail_days(db: Database) -> None:
    """A forward copies other mail whole: it keeps it no longer than the mail itself, whether
    customer service got it or the relay never took it."""
    with db.session() as s:
        old = store_mail(s, mail_bytes("liisa@example.fi", f"Tilaus 4411? {PHONE}"),
                         received_at=days_ago(31), state="processed")
        failed = _forward(s, old, written=31, state="failed")
        waiting_mail = store_mail(s, mail_bytes("liisa@example.fi", f"Tilaus 4412? {PHONE}"),
                                  received_at=days_ago(31), state="processed")
        waiting = _forward(s, waiting_mail, written=31, state="pending")
        recent_mail = store_mail(s, mail_bytes("liisa@example.fi", f"Tilaus 4413? {PHONE}"),
                                 received_at=days_ago(29), state="processed")
        recent = _forward(s, recent_mail, written=29, state="failed")
    assert _purge(db, dry_run=True)["forwards"] == 2
    assert _purge(db)["forwards"] == 2
    for forward_id in (failed, waiting):
        row, files = letter(db, forward_id)
        assert row is not None and PHONE not in row.subject and row.body_text == ""
        assert [(f.filename, f.data) for f in files] == [("original.eml", b"")]
        assert row.state == "failed"  # the waiting one never goes out empty
    row, files = letter(db, recent)
    assert row is not None and PHONE in row.subject and files[0].data != b""


def test_case_file_deleted_after_case_years_leaving_a_statistic(db: Database) -> None:
    with db.session() as s:
        old = create_case(s, types=["access", "erasure"], requester="maija@example.fi",
                          language="sv", received_at=days_ago(3 * 365 + 40),
                          due_date=date(2023, 11, 30))
        request = store_mail(s, mail_bytes("maija@example.fi", "Radera mina uppgifter"),
                             received_at=days_ago(3 * 365 + 40), state="processed",
                             case_id=old.id)
        sent = add_letter(s, case_id=old.id, recipient="maija@example.fi", body="Erased",
                          kind="erasure_done", files={"a.pdf": b"x"}, sent_at=days_ago(1130))
        close_case(s, old, at=days_ago(3 * 365 + 2))
        young = create_case(s, types=["access"], requester="pekka@example.fi", language="fi",
                            received_at=days_ago(800), due_date=date(2024, 10, 1))
        close_case(s, young, at=days_ago(790))
        old_id, young_id = old.id, young.id
    counts = _purge(db)
    assert counts["cases"] == 1 and counts["case_mails"] == 1 and counts["case_letters"] == 1
    with db.read_session() as s:
        assert s.get(Case, old_id) is None and s.get(Case, young_id) is not None
        assert s.get(OutboundMessage, sent) is None
        assert s.exec(select(CaseThreadRef).where(CaseThreadRef.case_id == old_id)).all() == []
        assert s.exec(select(IdentityChallenge)).all() == []
        stats = s.exec(select(CaseStatistic)).all()
        audit = s.exec(select(AuditEntry).where(AuditEntry.action == "retention.case_deleted")
                       ).all()
    row = inbound(db, request)
    assert row.raw == b"" and row.case_id is None and row.sha256
    assert [(st.types, st.language, st.outcome, st.received_on) for st in stats] == [
        (["access", "erasure"], "sv", "done", days_ago(3 * 365 + 40).date())]
    assert [a.case_id for a in audit] == [old_id]
    assert "maija" not in json.dumps([a.details for a in audit])


def test_a_report_month_survives_the_purge_of_its_cases(db: Database, tmp_path: Path) -> None:
    """The desk's report (issue 16) keeps a month's figures after ``case_years`` deleted its
    case files: it reads the anonymous statistic each one left."""
    from bot.policy_from_settings import record_retention
    from tests import web_kit as kit

    cfg, settings = kit.write_settings(tmp_path, db)
    kit.add_staff(cfg, "ville", "viewer")
    # Received late on 31 January 2023 in UTC: 1 February in Helsinki, the report's day.
    received = datetime(2023, 1, 31, 22, 30, tzinfo=UTC)
    for types, took in ((("access",), 10), (("erasure",), 40)):
        old = kit.make_case(db, types=types, received_at=received)
        with db.session() as s:
            case = s.get(Case, old)
            assert case is not None
            close_case(s, case, at=received + timedelta(days=took))
    kit.make_case(db, types=("access",))  # this year's, still open
    with kit.client(settings, db) as web:
        kit.login(web, "ville")
        before = web.get("/reports.csv").content.decode("utf-8-sig").splitlines()
        # Three years after they closed, the purge deletes both case files.
        purged = PurgeJob(db, record_retention(settings)).run(datetime.now(UTC))
        assert purged.counts["cases"] == 2
        with db.read_session() as s:
            assert len(s.exec(select(Case)).all()) == 1
        after = web.get("/reports.csv").content.decode("utf-8-sig").splitlines()
        page = web.get("/reports").text
    assert after == before
    february = [line for line in after if line.startswith("2023-02,")]
    assert february and february[0].startswith("2023-02,2,1,1,")
    assert after[-1].startswith("total,3,")
    assert ">2023-02<" in page


def test_case_file_deleted_with_the_signature_it_used(db: Database) -> None:
    """A signature that verified a case goes with the case file: years later it is far older
    than identity.signature_max_age_days, so it could not verify anything again anyway."""
    with db.session() as s:
        old = create_case(s, types=["access"], requester="maija@example.fi", language="fi",
                          received_at=days_ago(3 * 365 + 40), due_date=date(2023, 11, 30))
        used_signatures.record(s, "ab" * 32, old.id, days_ago(3 * 365 + 40))
        close_case(s, old, at=days_ago(3 * 365 + 2))
        old_id = old.id
    assert _purge(db)["cases"] == 1
    with db.read_session() as s:
        assert s.get(Case, old_id) is None
        assert s.exec(select(UsedSignature)).all() == []


def test_dry_run_changes_nothing(db: Database) -> None:
    with db.session() as s:
        row = store_mail(s, mail_bytes("liisa@example.fi", "Spare blades?"),
                         received_at=days_ago(40), state="processed")
    with db.read_session() as s:
        entries_before = len(s.exec(select(AuditEntry)).all())
    assert _purge(db, dry_run=True)["other_mail"] == 1
    assert inbound(db, row).raw != b""
    with db.read_session() as s:
        assert len(s.exec(select(AuditEntry)).all()) == entries_before
    assert _purge(db)["other_mail"] == 1
    assert inbound(db, row).raw == b""


def test_purge_command_prints_and_audits_counts_never_contents(db: Database) -> None:
    with db.session() as s:
        store_mail(s, mail_bytes("liisa@example.fi", "Spare blades? liisa@example.fi"),
                   received_at=days_ago(40), state="processed")
    env = {"DSRBOT_DATABASE__URL": db.url}
    dry = run_cli("purge", "--now", NOW.isoformat(), "--dry-run", env=env)
    assert dry.exit_code == 0, dry.output
    assert "other_mail=1" in dry.output and "nothing changed" in dry.output
    done = run_cli("purge", "--now", NOW.isoformat(), "--json", env=env)
    assert json.loads(done.output)["counts"]["other_mail"] == 1
    with db.read_session() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "retention.purge")
                         .order_by(col(AuditEntry.id))).all()
        left = s.exec(select(InboundMessage)).all()
    assert [e.actor for e in entries] == [f"operator:{getpass.getuser()}"]
    assert entries[0].details["counts"]["other_mail"] == 1
    assert "liisa" not in done.output + json.dumps(entries[0].details)
    assert all(r.raw == b"" for r in left)
