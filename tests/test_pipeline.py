"""The whole inbound pipeline on real mail bytes: every stage real, the outbox as the witness.

These are the product's promises to the people who write in: robots and ordinary customer
mail get no answer; each request gets one receipt; nothing changes and no personal data
leaves until the requester has proven the registered address; then the request is honoured.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from sqlmodel import select

from bot.pipeline import process_one, run_once
from bot.settings import Settings, load_settings
from handlers import cases as engine
from handlers.challenge import find_codes
from storage import audit, inbox
from storage.db import Database
from storage.models import (
    Case,
    CaseStatus,
    Customer,
    InboundMessage,
    Invoice,
    OutboundMessage,
)
from tests import factories

REGISTERED = "maija.virtanen@example.fi"


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n', encoding="utf-8")
    return load_settings(cfg)


@pytest.fixture
def customer(db: Database) -> int:
    return factories.stored_customer(
        db, "104233", last_name="Virtanen", email="Maija.Virtanen@example.fi",
        postal_address="Hämeenkatu 12 B 7, 33100 Tampere", phone="+358401234567",
        relationship_start=date(2019, 5, 1))


def mail(subject: str, body: str, *, sender: str = f"Maija Virtanen <{REGISTERED}>",
         headers: dict[str, str] | None = None, in_reply_to: str | None = None,
         attachment: tuple[bytes, str, str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "info@rusttet.fi"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="example.fi")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    if attachment:
        data, maintype, subtype, filename = attachment
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(msg)


def deliver(db: Database, settings: Settings, raw: bytes) -> int:
    with db.session() as s:
        row, _ = inbox.store_inbound(s, raw, channel="smtp", envelope_from="",
                                     envelope_to=["info@rusttet.fi"],
                                     received_at=datetime.now(UTC))
        assert row.id is not None
        row_id = row.id
    run_once(db, settings)
    return row_id


def outbox_rows(db: Database) -> list[OutboundMessage]:
    with db.read_session() as s:
        return list(s.exec(select(OutboundMessage).order_by(OutboundMessage.id)).all())


def inbound(db: Database, row_id: int) -> InboundMessage:
    with db.read_session() as s:
        row = s.get(InboundMessage, row_id)
        assert row is not None
        return row


def only_case(db: Database) -> Case:
    with db.read_session() as s:
        rows = s.exec(select(Case)).all()
    assert len(rows) == 1
    return rows[0]


def customer_row(db: Database, customer_id: int) -> Customer:
    with db.read_session() as s:
        c = s.get(Customer, customer_id)
        assert c is not None
        return c


def confirm_by_reply(db: Database, settings: Settings, *, sender: str = REGISTERED) -> None:
    challenge = next(r for r in outbox_rows(db) if r.kind == "identity_challenge")
    code = find_codes(challenge.body_text)[0]
    deliver(db, settings, mail(f"Re: {challenge.subject}", f"Koodi: {code}\n\nMaija",
                               sender=sender, in_reply_to=challenge.message_id))


def test_order_question_is_left_for_customer_service(db: Database, settings: Settings,
                                                     customer: int) -> None:
    row_id = deliver(db, settings, mail(
        "Tilaus 5012345", "Hei, milloin tilaukseni 5012345 toimitetaan? Terveisin Maija"))
    row = inbound(db, row_id)
    assert row.state == "processed" and row.case_id is None
    assert any("left for customer service" in r for r in row.reasons)
    assert outbox_rows(db) == []


def test_auto_reply_is_never_answered(db: Database, settings: Settings, customer: int) -> None:
    row_id = deliver(db, settings, mail(
        "Automaattinen vastaus: tietopyyntö", "Olen lomalla 1.12. asti. Poistakaa tietoni.",
        headers={"Auto-Submitted": "auto-replied"}))
    assert inbound(db, row_id).state == "ignored"
    assert outbox_rows(db) == []


def test_request_gets_one_receipt_in_its_language_with_case_id_and_due_date(
    db: Database, settings: Settings, customer: int
) -> None:
    raw = mail("Remove me from your marketing",
               "Please stop sending me advertising and newsletters. Regards, Maija")
    deliver(db, settings, raw)
    deliver(db, settings, raw)  # the same message again (a redelivery) changes nothing
    case = only_case(db)
    receipts = [r for r in outbox_rows(db) if r.kind == "receipt"]
    assert len(receipts) == 1
    assert receipts[0].recipient.lower() == REGISTERED
    assert case.id in receipts[0].subject
    assert case.language == "en"
    assert case.types == ["marketing_optout"]


def test_claimed_sender_is_challenged_at_the_registered_address_before_anything_changes(
    db: Database, settings: Settings, customer: int
) -> None:
    deliver(db, settings, mail("Poistakaa tietoni", "Poistakaa kaikki tietoni rekisteristänne."))
    case = only_case(db)
    assert case.status == CaseStatus.AWAITING_IDENTITY
    challenges = [r for r in outbox_rows(db) if r.kind == "identity_challenge"]
    assert [r.recipient for r in challenges] == ["Maija.Virtanen@example.fi"]
    assert customer_row(db, customer).anonymised_at is None


def test_marketing_optout_from_the_registered_address_is_applied_without_a_code(
    db: Database, settings: Settings, customer: int
) -> None:
    deliver(db, settings, mail("Suoramarkkinointikielto",
                               "Hei, en halua enää mainoksia enkä puhelinmyyntiä. Maija"))
    case = only_case(db)
    assert case.status == CaseStatus.DONE
    assert customer_row(db, customer).marketing_ban is True
    assert not [r for r in outbox_rows(db) if r.kind == "identity_challenge"]
    confirmations = [r for r in outbox_rows(db) if r.kind == "marketing_optout"]
    assert [r.recipient for r in confirmations] == ["Maija.Virtanen@example.fi"]
    assert "Tietosuojavaltuutetun toimisto" in confirmations[0].body_text
    assert "vastaa tähän viestiin" in confirmations[0].body_text  # how to undo it
    with db.read_session() as s:
        assert audit.verify(s).ok


def test_code_sent_from_another_address_verifies_nothing(
    db: Database, settings: Settings, customer: int
) -> None:
    deliver(db, settings, mail("Poistakaa tietoni", "Poistakaa kaikki tietoni rekisteristänne."))
    confirm_by_reply(db, settings, sender="maija.virtanen@evil.example")
    case = only_case(db)
    assert case.status == CaseStatus.AWAITING_IDENTITY
    assert customer_row(db, customer).anonymised_at is None


def test_lookalike_domain_impostor_changes_nothing_and_learns_nothing(
    db: Database, settings: Settings, customer: int
) -> None:
    deliver(db, settings, mail(
        "Markkinointikielto", "En halua mainoksia. Asiakasnumeroni on 104233. Maija Virtanen",
        sender="Maija Virtanen <maija.virtanen@examp1e.fi>"))
    case = only_case(db)
    assert case.customer_id is None
    assert customer_row(db, customer).marketing_ban is False
    sent = outbox_rows(db)
    assert [r.kind for r in sent] == ["receipt"]
    assert "Hämeenkatu" not in sent[0].body_text and "104233" not in sent[0].body_text


def test_access_request_with_scanned_letter_waits_for_staff_then_report_goes_to_register(
    db: Database, settings: Settings, customer: int
) -> None:
    with db.session() as s:
        s.add(Invoice(invoice_number="90000001", customer_id=customer, issued_at=date(2026, 1, 5),
                      due_date=date(2026, 1, 19), amount_cents=12990, status="open"))
    scan = (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image", "jpeg", "allekirjoitettu.jpg")
    deliver(db, settings, mail("Tarkastuspyyntö",
                               "Haluan tarkastaa mitä tietoja minusta on rekisterissä. "
                               "Allekirjoitettu pyyntö liitteenä.", attachment=scan))
    confirm_by_reply(db, settings)
    case = only_case(db)
    assert case.status == CaseStatus.AWAITING_APPROVAL
    assert case.signature_state == "staff_to_check"
    assert not [r for r in outbox_rows(db) if r.kind == "access_report"]
    with db.session() as s:
        c = s.get(Case, case.id)
        assert c is not None
        engine.approve(s, c, actor="staff:anna")
    run_once(db, settings)
    reports = [r for r in outbox_rows(db) if r.kind == "access_report"]
    assert [r.recipient for r in reports] == ["Maija.Virtanen@example.fi"]
    assert "90000001" in reports[0].body_text
    assert only_case(db).status == CaseStatus.DONE


def test_crash_before_commit_leaves_the_message_to_be_processed_again(
    db: Database, settings: Settings, customer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import bot.pipeline as pipeline

    with db.session() as s:
        row, _ = inbox.store_inbound(s, mail("Markkinointikielto", "Ei enää mainoksia kiitos."),
                                     channel="smtp", envelope_from="",
                                     envelope_to=["info@rusttet.fi"],
                                     received_at=datetime.now(UTC))
        row_id = row.id
    assert row_id is not None

    def boom(*args: object) -> None:
        raise RuntimeError("power cut")

    # The last stage fails after the case and its receipt were written in the transaction.
    monkeypatch.setattr(pipeline, "STAGES", tuple(
        dataclasses.replace(st, run=boom) if st.name == "decide" else st
        for st in pipeline.STAGES))
    with pytest.raises(RuntimeError):
        process_one(db, settings, row_id)
    # Nothing of the half-done work was committed: no case, no receipt, still to be processed.
    assert inbound(db, row_id).state == "received"
    assert outbox_rows(db) == []
    monkeypatch.undo()
    assert process_one(db, settings, row_id) == "processed"
    assert len([r for r in outbox_rows(db) if r.kind == "receipt"]) == 1


def test_verified_colleague_asking_to_erase_someone_else_waits_for_staff(
    db: Database, settings: Settings, customer: int
) -> None:
    with db.session() as s:
        colleague_id = factories.add_customer(s, "104300", first_name="Matti", last_name="Laine",
                                              email="matti.laine@example.fi").id
    assert colleague_id is not None
    deliver(db, settings, mail(
        "Tietojen poisto", "Poistakaa kollegani Maija Virtasen tiedot rekisteristänne "
        "(asiakasnumero 104233).", sender="Matti Laine <matti.laine@example.fi>"))
    confirm_by_reply(db, settings, sender="matti.laine@example.fi")
    case = only_case(db)
    assert case.status == CaseStatus.AWAITING_APPROVAL
    assert any("names another customer" in r for r in case.reasons)
    assert customer_row(db, customer).anonymised_at is None
    assert customer_row(db, colleague_id).anonymised_at is None
    assert customer_row(db, colleague_id).last_name == "Laine"


def test_requests_in_a_customers_name_do_not_flood_their_mailbox_with_codes(
    db: Database, settings: Settings, customer: int
) -> None:
    for n in range(5):
        deliver(db, settings, mail(f"Poistakaa tietoni {n}",
                                   f"Poistakaa kaikki tietoni rekisteristänne. ({n})"))
    challenges = [r for r in outbox_rows(db) if r.kind == "identity_challenge"]
    assert len(challenges) == 1  # one letter per customer per hour
    with db.read_session() as s:
        cases = s.exec(select(Case).order_by(Case.id)).all()
    assert len(cases) == 5
    assert any("at most one per hour" in r for r in cases[-1].reasons)
    assert customer_row(db, customer).anonymised_at is None


def test_reply_to_a_closed_case_with_a_new_request_opens_a_new_case(
    db: Database, settings: Settings, customer: int
) -> None:
    deliver(db, settings, mail("Suoramarkkinointikielto",
                               "Hei, en halua enää mainoksia enkä puhelinmyyntiä. Maija"))
    first = only_case(db)
    assert first.status == CaseStatus.DONE
    done_letter = next(r for r in outbox_rows(db) if r.kind == "marketing_optout")
    deliver(db, settings, mail(f"Re: {done_letter.subject}",
                               "Kiitos. Poistakaa nyt myös kaikki tietoni rekisteristänne.",
                               in_reply_to=done_letter.message_id))
    with db.read_session() as s:
        cases = s.exec(select(Case).order_by(Case.id)).all()
    assert len(cases) == 2 and cases[0].id == first.id
    assert cases[1].types == ["erasure"]
    assert cases[0].status == CaseStatus.DONE


def test_a_sender_over_the_limit_within_one_batch_is_held(
        db: Database, tmp_path: Path) -> None:
    """The rate limit counts the sender's mail also when the flood arrives in one batch (its
    count is read once for the batch): the mails past the limit wait for staff, no cases."""
    cfg = tmp_path / "limit.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n[mail]\nrate_limit_per_sender = 3\n',
                   encoding="utf-8")
    settings = load_settings(cfg)
    with db.session() as s:
        for n in range(5):
            inbox.store_inbound(s, mail("Tietojen poisto", f"Poistakaa tietoni. {n}",
                                        sender="flood@example.com"),
                                channel="smtp", envelope_from="", envelope_to=["info@rusttet.fi"],
                                received_at=datetime.now(UTC))
    run_once(db, settings)
    with db.read_session() as s:
        states = [r.state for r in s.exec(select(InboundMessage)
                                          .order_by(InboundMessage.id)).all()]  # type: ignore[arg-type]
        cases = s.exec(select(Case)).all()
    assert states[3:] == ["held", "held"]
    assert len(cases) == 3


def test_a_message_that_fails_in_a_batch_is_quarantined_alone_and_the_rest_answered(
        db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch commits in one transaction. When one message's stage raises after its case and
    receipt were written, only that message is quarantined: none of its rows stay, the other
    requests get their cases and one receipt each, numbered without gaps, each receipt's
    audit entry names its outbox row, and the audit chain verifies."""
    import dataclasses

    import bot.pipeline as pipeline

    with db.session() as s:
        for n in range(4):
            inbox.store_inbound(s, mail("Tietojen poisto", f"Poistakaa kaikki tietoni. {n}",
                                        sender=f"asiakas{n}@example.com"),
                                channel="smtp", envelope_from="", envelope_to=["info@rusttet.fi"],
                                received_at=datetime.now(UTC))
    decide = next(st.run for st in pipeline.STAGES if st.name == "decide")

    def decide_or_fail(work: object, ctx: object, session: object) -> object:
        if work.message.from_address == "asiakas1@example.com":  # type: ignore[attr-defined]
            raise RuntimeError("stage failed")
        return decide(work, ctx, session)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "STAGES", tuple(
        dataclasses.replace(st, run=decide_or_fail) if st.name == "decide" else st
        for st in pipeline.STAGES))
    run_once(db, settings)
    with db.read_session() as s:
        rows = list(s.exec(select(InboundMessage).order_by(InboundMessage.id)).all())  # type: ignore[arg-type]
        cases = list(s.exec(select(Case).order_by(Case.id)).all())  # type: ignore[arg-type]
        enqueued = {e.details["outbound_id"]: e.case_id for e in audit.iter_entries(s)
                    if e.action == "outbox.enqueued"}
        assert audit.verify(s).ok
    assert [r.state for r in rows] == ["processed", "quarantined", "processed", "processed"]
    assert "internal error while processing: RuntimeError" in rows[1].reasons
    assert rows[1].case_id is None
    assert sorted(c.requester for c in cases) == [
        "asiakas0@example.com", "asiakas2@example.com", "asiakas3@example.com"]
    assert [c.id[-4:] for c in cases] == ["0001", "0002", "0003"]
    receipts = [r for r in outbox_rows(db) if r.kind == "receipt"]
    assert sorted(r.recipient for r in receipts) == [
        "asiakas0@example.com", "asiakas2@example.com", "asiakas3@example.com"]
    assert enqueued == {r.id: r.case_id for r in receipts}
