"""Erasure reaches dsrbot's own copies (issue 17, rule 2): her earlier mails, reports, letters,
chat rows and identity evidence go at once; the erasure case keeps only its proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.health import report as health
from bot.purge_job import PurgeJob
from bot.settings import Settings, load_settings
from handlers.policy import RecordRetention
from storage import chat_outbox, mail_copies, outbox
from storage import purge as store
from storage.db import Database
from storage.models import (
    Case,
    ChatNotification,
    IdentityChallenge,
    InboundMessage,
    OutboundAttachment,
    OutboundMessage,
)
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
from tests.rights_support import add_customer, audit_entries, open_case, run_right
from tests.test_bounces import dsn
from tests.test_pipeline import deliver, mail

PHONE = "040 111 2222"


def _earlier_access_case(s: object, customer: object, address: str) -> tuple[str, int, int]:
    """An access request answered last month: the mail, the report with its PDF, a chat row
    and the confirmation code she answered."""
    case = open_case(s, customer, ["access"])  # type: ignore[arg-type]
    mail = store_mail(s, mail_bytes(address, f"Send me my data. Phone {PHONE}"),  # type: ignore[arg-type]
                      received_at=days_ago(40), state="processed", case_id=case.id)
    report = add_letter(s, case_id=case.id, recipient=address,  # type: ignore[arg-type]
                        body="Your data: Maija Meikäläinen, Hämeenkatu 12 B 7",
                        files={"access-report-100001.pdf": b"%PDF Maija"},
                        sent_at=days_ago(35))
    chat_outbox.enqueue(s, case_id=case.id, now=days_ago(40))  # type: ignore[arg-type]
    s.add(IdentityChallenge(case_id=case.id, customer_id=customer.id,  # type: ignore[attr-defined]
                            code_hash="0" * 64, expires_at=days_ago(37),
                            created_at=days_ago(40)))
    close_case(s, case, at=days_ago(35))  # type: ignore[arg-type]
    return case.id, mail, report


def test_erasure_purges_the_customers_earlier_mails_and_reports(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        other = add_customer(s, "100002")
        address = c.email
        old_case, old_mail, old_report = _earlier_access_case(s, c, address)
        # Mail to customer service (no request), with her phone number in it.
        chatter = store_mail(s, mail_bytes(address, f"Where is my order? Call {PHONE}."),
                             received_at=days_ago(10), state="processed")
        not_hers = store_mail(s, mail_bytes(other.email, "Where is my order?"),
                              received_at=days_ago(10), state="processed")
        case = open_case(s, c, ["erasure"])
        case.details = {**case.details, "subject": f"Erase me, {PHONE}"}  # the letter shows it
        request = store_mail(s, mail_bytes(address, f"Erase me. {PHONE}", subject="Erase"),
                             received_at=days_ago(1), state="processed", case_id=case.id)
        receipt = add_letter(s, case_id=case.id, recipient=address, kind="receipt",
                             body="We received your request", sent_at=days_ago(1))
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    run_right(db, "erasure", case_id, customer_id)

    for row_id in (old_mail, chatter, request):
        row = inbound(db, row_id)
        assert row.raw == b"" and row.from_address == "" and row.sha256
    assert inbound(db, not_hers).raw != b""
    report, files = letter(db, old_report)
    assert report is not None and report.body_text == "" and report.recipient == ""
    assert [f.data for f in files] == [b""]
    with db.read_session() as s:
        assert s.exec(select(ChatNotification)
                      .where(ChatNotification.case_id == old_case)).all() == []
        assert s.exec(select(IdentityChallenge)).all() == []
        old, erasure = s.get(Case, old_case), s.get(Case, case_id)
        letters = s.exec(select(OutboundMessage).where(OutboundMessage.case_id == case_id)
                         .order_by(col(OutboundMessage.id))).all()
    assert old is not None and old.requester == "" and old.types == ["access"]
    # The erasure case keeps its proof: types, dates, decision, the letters' text.
    assert erasure is not None and erasure.requester == "" and erasure.types == ["erasure"]
    assert "subject" not in erasure.details  # what she wrote, like the extracted entities
    kinds = {m.kind: m for m in letters}
    assert kinds["receipt"].body_text == "We received your request"
    assert kinds["receipt"].recipient == "" and kinds["receipt"].id == receipt
    # The confirmation is still to be delivered, to her registered address.
    assert kinds["erasure_done"].recipient == address and kinds["erasure_done"].body_text
    copies = audit_entries(db, "rights.erasure.done")[0].details["own_copies"]
    assert copies["mails"] == 3 and copies["attachments"] == 1 and copies["cases"] == 1

    # Once delivered, the daily purge takes the confirmation's address too.
    with db.session() as s:
        done_id = kinds["erasure_done"].id
        assert done_id is not None
        outbox.mark_sent(s, done_id, now=NOW)
    counts = PurgeJob(db, RecordRetention()).run(NOW + timedelta(hours=1)).counts
    assert counts["erased_letters"] == 1
    confirmation, _ = letter(db, done_id)
    assert confirmation is not None and confirmation.recipient == ""
    assert confirmation.body_text  # the proof that it was handled stays


def test_erasure_leaves_other_customers_and_open_cases_alone(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        other = add_customer(s, "100002")
        theirs = open_case(s, other, ["access"])
        their_mail = store_mail(s, mail_bytes(other.email, "My data please"),
                                received_at=days_ago(3), state="processed", case_id=theirs.id)
        pending_access = open_case(s, c, ["access"])
        her_open = store_mail(s, mail_bytes(c.email, "And my data"), received_at=days_ago(2),
                              state="processed", case_id=pending_access.id)
        just_in = store_mail(s, mail_bytes(c.email, "One more thing", subject="New"),
                             received_at=NOW, state="received")
        case = open_case(s, c, ["erasure"])
        case_id, customer_id, open_id = case.id, c.id, pending_access.id
    assert customer_id is not None
    run_right(db, "erasure", case_id, customer_id)
    assert inbound(db, their_mail).raw != b""
    # A mail of hers the pipeline has not read yet may be a new request: it is left whole.
    assert inbound(db, just_in).raw != b""
    # Her mail from her address goes; the open case itself stays for staff to answer.
    assert inbound(db, her_open).raw == b""
    with db.read_session() as s:
        still_open = s.get(Case, open_id)
    assert still_open is not None and still_open.requester != ""


def test_desk_shows_a_purged_mail_as_purged_not_as_broken(db: Database, tmp_path: Path) -> None:
    from tests import web_kit as kit

    cfg, settings = kit.write_settings(tmp_path, db)
    kit.add_staff(cfg, "aino", "approver")
    case_id = kit.make_case(db, customer_id=kit.add_customer(db))
    with db.session() as s:  # as an erasure leaves the request mail of a case
        store.purge_inbound(s, [i for i in s.exec(select(InboundMessage.id)).all() if i], NOW)
    with kit.client(settings, db) as web:
        kit.login(web, "aino")
        html = web.get(f"/cases/{case_id}").text
    assert "haluan tarkastaa tietoni" not in html
    assert "purged on" in html and "could not be read" not in html


# --- copies of her mail elsewhere: forwards to customer service, bounce notices --------------

CS = "asiakaspalvelu@rusttet.fi"


def _forwarding(tmp_path: Path, db: Database) -> Settings:
    """Deployment shape 3: mail that is no request is forwarded to customer service."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n[mail.receiver]\nforward_other_to = "{CS}"\n',
                   encoding="utf-8")
    return load_settings(cfg)


def _everything_in_the_outbox(db: Database) -> bytes:
    with db.read_session() as s:
        letters = s.exec(select(OutboundMessage)).all()
        files = s.exec(select(OutboundAttachment)).all()
        return b"\n".join([*(f"{m.subject}\n{m.body_text}\n{m.bounce_diagnostic}".encode()
                             for m in letters), *(f.data for f in files)])


def test_erasure_removes_her_mail_forwarded_to_customer_service(db: Database,
                                                                tmp_path: Path) -> None:
    settings = _forwarding(tmp_path, db)
    with db.session() as s:
        c = add_customer(s)
        address, customer_id = c.email, c.id
    assert customer_id is not None
    # Three questions to customer service, each forwarded there by the pipeline with her mail
    # attached whole: one went out, one failed at the relay, one is still waiting.
    questions = [deliver(db, settings, mail(f"Tilaus {n}, soittakaa {PHONE}",
                                            f"Missä tilaukseni {n} on? Soittakaa {PHONE}.",
                                            sender=address))
                 for n in ("4411", "4412", "4413")]
    with db.session() as s:
        forwards = {r.inbound_id: r for r in s.exec(select(OutboundMessage)
                                                     .where(OutboundMessage.kind == "forward"))}
        assert set(forwards) == set(questions)
        sent, failed, waiting = (forwards[i].id for i in questions)
        assert sent is not None and failed is not None and waiting is not None
        outbox.mark_sent(s, sent, now=NOW)
        broken = s.get(OutboundMessage, failed)
        assert broken is not None
        broken.state, broken.last_error = "failed", "relay refused"
        s.add(broken)
        case_id = open_case(s, s.get(type(c), customer_id), ["erasure"]).id
    assert PHONE.encode() in _everything_in_the_outbox(db)

    run_right(db, "erasure", case_id, customer_id)

    # Nothing she wrote is left in dsrbot's outbox: not the attached original, not the subject.
    outbox_now = _everything_in_the_outbox(db)
    assert PHONE.encode() not in outbox_now and b"4411" not in outbox_now
    for forward_id in (sent, failed, waiting):
        row, files = letter(db, forward_id)
        assert row is not None and row.subject == mail_copies.PURGED_SUBJECT
        assert [(f.filename, f.data) for f in files] == [("original.eml", b"")]
        assert row.recipient == CS  # what was sent where stays; what she wrote goes
    states = {i: letter(db, i)[0].state for i in (sent, failed, waiting)}  # type: ignore[union-attr]
    # The one still waiting never goes out empty, and stopping it is no delivery failure.
    assert states == {sent: "sent", failed: "failed", waiting: "failed"}
    with db.read_session() as s:
        verdict = health.problems(settings, s, datetime.now(UTC))
    assert [p for p in verdict.problems if p.startswith("outbox failing")] == [
        "outbox failing: 1 letter(s) failed or retrying"]  # the relay's refusal only
    assert all(inbound(db, i).raw == b"" for i in questions)
    copies = audit_entries(db, "rights.erasure.done")[0].details["own_copies"]
    assert copies["forwards"] == 3


def test_erasure_clears_the_bounce_of_her_letter_and_its_notice(db: Database,
                                                              tmp_path: Path) -> None:
    settings = _forwarding(tmp_path, db)
    with db.session() as s:
        c = add_customer(s)
        address, customer_id = c.email, c.id
        earlier = open_case(s, c, ["access"])
        receipt = add_letter(s, case_id=earlier.id, recipient=address, kind="receipt",
                             body="We received your request", sent_at=days_ago(40))
        close_case(s, earlier, at=days_ago(35))
        returned = s.get(OutboundMessage, receipt)
        assert returned is not None
        headers = f"Message-ID: {returned.message_id}\r\nTo: {address}\r\n"
    # The receipt bounced: the notice and the letter's diagnostic both quote her address.
    notice = deliver(db, settings, dsn(headers, address))
    bounced, _ = letter(db, receipt)
    assert bounced is not None and bounced.state == "bounced"
    assert address in (bounced.bounce_diagnostic or "")
    assert address.encode() in inbound(db, notice).raw
    with db.session() as s:
        case_id = open_case(s, s.get(type(c), customer_id), ["erasure"]).id
    assert customer_id is not None

    run_right(db, "erasure", case_id, customer_id)

    bounced, _ = letter(db, receipt)
    assert bounced is not None and bounced.bounce_diagnostic is None
    assert bounced.bounce_status == "5.1.1"  # that it bounced stays, not to whom
    assert inbound(db, notice).raw == b"" and inbound(db, notice).purged_at is not None
    assert address.encode() not in _everything_in_the_outbox(db)
    assert audit_entries(db, "rights.erasure.done")[0].details["own_copies"][
        "bounce_notices"] == 1
