"""The whole service against real peers: an erasure blocked in part, and a marketing opt-out.

The same harness as the access flow (tests/test_e2e_access.py): Dovecot in, SMTP sink out, the
real python-telegram-bot against the fake Bot API. Maija has an open invoice, so her erasure can
only be partial: what invoicing needs stays, the rest (phone, web page, email) goes, and the
letter says why. A signed opt-out needs no one: it is carried out as soon as it is verified.
"""

from __future__ import annotations

from sqlmodel import select

from storage.models import Invoice, OutboundMessage
from tests import test_e2e_access as kit
from tests.fixtures.dovecot import dovecot, dovecot_server  # noqa: F401
from tests.test_e2e_access import (
    INVOICE,
    PROCESSED_FOLDER,
    REGISTERED,
    Service,
    approve_in_chat,
    body,
    eventually,
    mailbox_uids,
    signed_request,
)

peers = kit.peers
service = kit.service


def kinds(svc: Service) -> list[tuple[str, str]]:
    with svc.db.read_session() as s:
        return [(r.kind, r.recipient.lower()) for r in s.exec(select(OutboundMessage))]


async def test_erasure_blocked_by_an_open_invoice_is_partial_with_reasons_after_approval(
    service: Service,
) -> None:
    svc = service
    imap = svc.imap
    assert imap is not None
    imap.append(signed_request(
        "Tietojen poisto", "Hei,\n\npoistakaa kaikki tietoni rekisteristänne.\n\n"
        "Maija Virtanen\n", message_id="<e2e-erasure@example.fi>"))
    await svc.start()

    await eventually(lambda: len(svc.cases()) == 1, "a case is opened")
    await eventually(lambda: svc.cases()[0].status == "awaiting_approval",
                     "the erasure waits for staff")
    [case] = svc.cases()
    assert case.types == ["erasure"] and case.verification_level == "verified"
    await eventually(lambda: len(svc.sink.captured) >= 1, "the receipt reaches the relay")
    assert svc.customer().phone == "+358401234567"  # nothing changes before the decision

    await approve_in_chat(svc, case.id)
    await eventually(lambda: svc.cases()[0].status == "done", "the erasure is carried out")
    await eventually(lambda: len(svc.sink.captured) >= 2, "the letter reaches the relay")

    letter = svc.sink.captured[-1]
    assert [r.lower() for r in letter.rcpt_tos] == [REGISTERED]
    text = body(letter.message)
    assert "Sinulla on avoimia laskuja (1 kpl)" in text  # the reason what is kept is kept
    assert "Tietosuojavaltuutetun toimisto" in text  # and where to complain
    assert ("erasure_partial", REGISTERED) in kinds(svc)
    assert len(svc.sink.captured) == 2

    customer = svc.customer()
    assert customer.phone == "" and customer.www == "" and customer.email == ""
    assert customer.last_name == "Virtanen" and customer.postal_address  # kept for invoicing
    assert customer.anonymised_at is None and customer.marketing_ban
    with svc.db.read_session() as s:
        [invoice] = s.exec(select(Invoice)).all()
    assert invoice.invoice_number == INVOICE and invoice.customer_id == svc.customer_id

    await eventually(lambda: mailbox_uids(imap, "INBOX") == [],
                     "the request leaves INBOX")
    assert len(mailbox_uids(imap, PROCESSED_FOLDER.replace("/", "."))) == 1
    assert svc.audit_ok()


async def test_signed_marketing_optout_is_carried_out_at_once_without_staff(
    service: Service,
) -> None:
    svc = service
    imap = svc.imap
    assert imap is not None
    imap.append(signed_request(
        "Suoramarkkinointikielto", "Hei,\n\nen halua enää suoramainontaa enkä "
        "puhelinmyyntiä.\n\nMaija Virtanen\n", message_id="<e2e-optout@example.fi>"))
    await svc.start()

    await eventually(lambda: len(svc.cases()) == 1, "a case is opened")
    await eventually(lambda: svc.cases()[0].status == "done", "the opt-out is carried out")
    [case] = svc.cases()
    assert case.types == ["marketing_optout"] and case.verification_level == "verified"
    assert svc.customer().marketing_ban is True
    await eventually(lambda: len(svc.sink.captured) >= 2, "receipt and confirmation sent")
    assert sorted(kinds(svc)) == [("marketing_optout", REGISTERED), ("receipt", REGISTERED)]
    assert all([r.lower() for r in c.rcpt_tos] == [REGISTERED] for c in svc.sink.captured)
    confirmation = next(c for c in svc.sink.captured
                        if "Tietosuojavaltuutetun toimisto" in body(c.message))
    assert case.id in str(confirmation.message["Subject"])
    # No approver was involved: nobody tapped anything.
    assert svc.fake.calls_to("answerCallbackQuery") == []
    await eventually(lambda: mailbox_uids(imap, "INBOX") == [],
                     "the request leaves INBOX")
    assert svc.audit_ok()
