"""Erasure: anonymisation in place, refused or partial where the notice's holds apply."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from storage.db import Database
from storage.models import (
    PERSONAL_FIELDS,
    AuditEntry,
    Case,
    Customer,
    FieldChange,
    Invoice,
    LegalHold,
    Order,
)
from storage.register import iter_mailing_list
from tests.rights_support import (
    HANDLERS,
    add_customer,
    add_invoice,
    add_order,
    audit_entries,
    open_case,
    outbox,
    run_right,
)

OLD = date(2015, 3, 1)  # invoices this old are past the bookkeeping period


def _customer(db: Database, **overrides: object) -> tuple[str, int]:
    with db.session() as s:
        c = add_customer(s, **overrides)  # type: ignore[arg-type]
        case = open_case(s, c, ["erasure"])
        assert c.id is not None
        return case.id, c.id


def _customer_row(db: Database, customer_id: int) -> Customer:
    with db.read_session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        return customer


def test_erasure_anonymises_in_place_and_keeps_orders_and_invoices(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        order = add_order(s, c, "T-1", when=OLD)
        add_invoice(s, c, "L-1", order=order, issued=OLD, status="paid")
        assert c.id is not None
        s.add(FieldChange(customer_id=c.id, field="phone", old_value="+358409999999",
                          changed_at=datetime(2020, 1, 1, tzinfo=UTC), actor="staff:anna"))
        case = open_case(s, c, ["erasure"])
        case_id, customer_id = case.id, c.id
    outcome = run_right(db, "erasure", case_id, customer_id)
    assert outcome.result == "done"
    customer = _customer_row(db, customer_id)
    assert all(getattr(customer, f) == "" for f in PERSONAL_FIELDS)
    assert customer.email_normalised == "" and customer.anonymised_at is not None
    assert customer.customer_number == "100001"
    assert customer.marketing_ban and customer.publication_ban
    with db.read_session() as s:
        assert [o.order_number for o in s.exec(select(Order)).all()] == ["T-1"]
        [invoice] = s.exec(select(Invoice)).all()
        assert invoice.customer_id == customer_id and invoice.order_id is not None
        [history] = s.exec(select(FieldChange)).all()
        assert history.old_value is None and history.field == "phone"
    [mail] = outbox(db)
    assert mail.kind == "erasure_done" and mail.recipient == "maija.100001@example.fi"
    assert "Tietosuojavaltuutetun toimisto" in mail.text
    [entry] = audit_entries(db)
    assert entry.action == "rights.erasure.done"
    assert entry.details["fields_erased"] == list(PERSONAL_FIELDS)


def test_audit_log_records_the_erasure_never_the_erased_values(db: Database) -> None:
    case_id, customer_id = _customer(db)
    run_right(db, "erasure", case_id, customer_id)
    with db.read_session() as s:
        log = json.dumps([e.details for e in s.exec(select(AuditEntry)).all()],
                         ensure_ascii=False)
    for value in ("Maija", "Meikäläinen", "maija.100001", "Hämeenkatu", "401234567",
                  "192.0.2.7", "toimitusjohtaja", "www.example.fi"):
        assert value not in log, value


def test_org_contact_person_cannot_be_erased(db: Database) -> None:
    case_id, customer_id = _customer(db, is_org_contact=True)
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        proposal = HANDLERS["erasure"].propose(s, case, customer, {})
    assert proposal.action == "refuse" and [r.code for r in proposal.reasons] == ["org_contact"]
    outcome = run_right(db, "erasure", case_id, customer_id)
    assert outcome.result == "refused"
    customer = _customer_row(db, customer_id)
    assert customer.first_name == "Maija" and customer.anonymised_at is None
    [mail] = outbox(db)
    assert mail.kind == "refusal"
    assert "yhteyshenkilönä" in mail.text and "ei voida poistaa tänä aikana" in mail.text
    assert "Tietosuojavaltuutetun toimisto" in mail.text
    assert audit_entries(db)[0].action == "rights.erasure.refused"


def test_erasure_refused_while_invoice_open(db: Database) -> None:
    """An open invoice keeps what invoicing needs; the rest goes, and the letter says why."""
    with db.session() as s:
        c = add_customer(s)
        add_invoice(s, c, "L-9", status="open", issued=OLD)
        case = open_case(s, c, ["erasure"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    outcome = run_right(db, "erasure", case_id, customer_id)
    assert outcome.result == "partial"
    customer = _customer_row(db, customer_id)
    kept = {f: getattr(customer, f) for f in PERSONAL_FIELDS if getattr(customer, f)}
    assert kept == {"first_name": "Maija", "last_name": "Meikäläinen",
                    "organisation": "Meikäläinen Oy",
                    "postal_address": "Hämeenkatu 12 B 7, 33100 Tampere"}
    assert customer.anonymised_at is None and customer.processing_restricted
    assert customer.marketing_ban and customer.publication_ban
    [mail] = outbox(db)
    assert mail.kind == "erasure_partial" and mail.recipient == "maija.100001@example.fi"
    assert "Sinulla on avoimia laskuja (1 kpl)" in mail.text
    assert "Sähköpostiosoite" in mail.text and "IP-numero" in mail.text  # erased, named
    assert "Tietosuojavaltuutetun toimisto" in mail.text
    entry = audit_entries(db)[0]
    assert entry.action == "rights.erasure.partial" and entry.details["holds"] == ["open_invoice"]
    assert set(entry.details["fields_kept"]) == set(kept)


def test_debt_collection_keeps_contact_details_for_the_collector(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        add_invoice(s, c, "L-7", status="in_collection", issued=OLD)
        case = open_case(s, c, ["erasure"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    outcome = run_right(db, "erasure", case_id, customer_id)
    assert outcome.result == "partial"
    customer = _customer_row(db, customer_id)
    assert customer.email and customer.phone and customer.postal_address
    assert customer.www == "" and customer.ip_address == "" and customer.position == ""
    assert "perinnässä" in outbox(db)[0].text


def test_bookkeeping_law_keeps_invoicing_data_of_recent_invoices(db: Database) -> None:
    issued = datetime.now(UTC).date() - timedelta(days=400)
    with db.session() as s:
        c = add_customer(s)
        add_invoice(s, c, "L-5", status="paid", issued=issued)
        case = open_case(s, c, ["erasure"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    outcome = run_right(db, "erasure", case_id, customer_id)
    assert outcome.result == "partial"
    assert [r.code for r in outcome.reasons] == ["bookkeeping"]
    assert outcome.reasons[0].params["until"] == f"{issued.year + 6}-12-31"
    customer = _customer_row(db, customer_id)
    assert customer.last_name == "Meikäläinen" and customer.email == ""
    assert "Kirjanpitolaki" in outbox(db)[0].text and f"{issued.year + 6}" in outbox(db)[0].text


def test_legal_hold_on_everything_refuses_and_an_expired_one_does_not(db: Database) -> None:
    today = datetime.now(UTC).date()
    case_id, customer_id = _customer(db)
    with db.session() as s:
        s.add(LegalHold(customer_id=customer_id, reason="authority_order", fields=[],
                        until=today + timedelta(days=30), created_at=datetime.now(UTC),
                        actor="staff:anna"))
        s.add(LegalHold(customer_id=customer_id, reason="litigation", fields=["phone"],
                        until=today - timedelta(days=1), created_at=datetime.now(UTC),
                        actor="staff:anna"))
    outcome = run_right(db, "erasure", case_id, customer_id)
    assert outcome.result == "refused" and [r.code for r in outcome.reasons] == ["legal_hold"]
    assert "Lainsäädäntö tai viranomaisen päätös" in outbox(db)[0].text


def test_erasure_rechecks_holds_when_it_is_carried_out(db: Database) -> None:
    case_id, customer_id = _customer(db)
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        proposal = HANDLERS["erasure"].propose(s, case, customer, {})
        assert proposal.action == "carry_out"
        add_invoice(s, customer, "L-NEW", status="open", issued=OLD)  # while staff decided
        outcome = HANDLERS["erasure"].carry_out(s, case, customer, proposal, "staff:anna")
    assert outcome.result == "partial"
    assert _customer_row(db, customer_id).postal_address


def test_erased_and_partly_erased_people_are_on_no_list(db: Database) -> None:
    with db.session() as s:
        gone = add_customer(s, "1")
        held = add_customer(s, "2")
        kept = add_customer(s, "3")
        add_invoice(s, held, "L-2", status="open", issued=OLD)
        cases = [(open_case(s, c, ["erasure"]).id, c.id) for c in (gone, held)]
        kept_id = kept.id
    for case_id, customer_id in cases:
        run_right(db, "erasure", case_id, customer_id)
    with db.read_session() as s:
        for purpose in ("publication", "marketing"):
            assert [row.id for row in iter_mailing_list(s, purpose)] == [kept_id]


def test_erasure_request_from_an_unverified_sender_changes_nothing(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["erasure"], verified=False, requester="colleague@example.fi")
        proposal = HANDLERS["erasure"].propose(s, case, c, {})
        customer_id = c.id
    assert proposal.action == "await_identity"
    assert customer_id is not None
    assert _customer_row(db, customer_id).first_name == "Maija"


def test_combined_request_reports_before_it_erases(db: Database) -> None:
    from handlers.rights import in_execution_order

    with db.session() as s:
        c = add_customer(s)
        add_order(s, c, "T-1", when=OLD)
        case = open_case(s, c, ["erasure", "marketing_optout", "access"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        for right in in_execution_order(case.types):
            handler = HANDLERS[right]
            handler.carry_out(s, case, customer, handler.propose(s, case, customer, {}),
                              "staff:anna")
    mails = outbox(db)
    assert [m.kind for m in mails] == ["access_report", "marketing_optout", "erasure_done"]
    assert all(m.recipient == "maija.100001@example.fi" for m in mails)
    assert "Hämeenkatu 12 B 7" in mails[0].text and "T-1" in mails[0].text
    assert _customer_row(db, customer_id).anonymised_at is not None


def test_erasure_is_told_to_the_parties_the_data_was_disclosed_to(db: Database) -> None:
    from tests.rights_support import add_disclosure, add_party

    with db.session() as s:
        c = add_customer(s)
        credit = add_party(s, "Luottotieto Oy", "credit_information", "rek@luotto.example")
        silent = add_party(s, "Vanha Kumppani Oy", "subcontractor", None)
        add_disclosure(s, c, credit, ["first_name", "last_name", "phone"], "credit_decision")
        add_disclosure(s, c, silent, [], "law")
        case = open_case(s, c, ["erasure"])
        case_id, customer_id, silent_id = case.id, c.id, silent.id
    assert customer_id is not None
    outcome = run_right(db, "erasure", case_id, customer_id)
    notices = [m for m in outbox(db) if m.kind == "recipient_notice"]
    assert [m.recipient for m in notices] == ["rek@luotto.example"]
    assert "poistaneet" in notices[0].text and "100001" in notices[0].text
    assert "Puhelinnumero" in notices[0].text and "Meikäläinen" not in notices[0].text
    assert len(outcome.letters) == 2
    assert audit_entries(db)[0].details["unnotified_party_ids"] == [silent_id]
