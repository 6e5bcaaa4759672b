"""Marketing opt-out, publication ban, restriction and objection, through their handlers."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.rights import RightsError, decide, refuse_request, send_neutral_reply
from storage.db import Database
from storage.models import Case, Customer
from storage.register import iter_mailing_list
from tests.helpers import run_cli
from tests.rights_support import (
    HANDLERS,
    NOW,
    ORG,
    add_customer,
    audit_entries,
    open_case,
    outbox,
    run_right,
)


def _case(db: Database, right: str, **options: object) -> tuple[str, int]:
    with db.session() as s:
        c = add_customer(s, last_name="Kieltäjä")
        add_customer(s, "100002", last_name="Listalla", email="other@example.fi")
        case = open_case(s, c, [right], **options)  # type: ignore[arg-type]
        assert c.id is not None
        return case.id, c.id


def _customer(db: Database, customer_id: int) -> Customer:
    with db.read_session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        return customer


def test_marketing_optout_is_set_at_once_without_staff_and_confirmed(db: Database) -> None:
    case_id, customer_id = _case(db, "marketing_optout", signature="none")
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        proposal = HANDLERS["marketing_optout"].propose(s, case, customer, {})
    assert proposal.action == "carry_out" and not proposal.needs_staff
    outcome = run_right(db, "marketing_optout", case_id, customer_id, actor="dsrbot")
    assert outcome.changed_fields == ("marketing_ban",)
    assert _customer(db, customer_id).marketing_ban
    [mail] = outbox(db)
    assert mail.kind == "marketing_optout" and mail.recipient == "maija.100001@example.fi"
    assert "suoramarkkinointia varten" in mail.text and "tietosuoja@om.fi" in mail.text
    with db.read_session() as s:
        assert "Kieltäjä" not in [r.last_name for r in iter_mailing_list(s, "marketing")]
    [entry] = audit_entries(db)
    assert entry.actor == "dsrbot" and entry.action == "rights.marketing_optout.set"


def test_publication_ban_through_the_handler_leaves_person_out_of_list(
    db: Database, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db.url}"\n', encoding="utf-8")
    before = run_cli("--config", str(cfg), "export", "list", "--purpose", "publication").stdout
    assert "Kieltäjä" not in before  # (no customer yet)
    case_id, customer_id = _case(db, "publication_ban", language="sv")
    before = run_cli("--config", str(cfg), "export", "list", "--purpose", "publication").stdout
    assert "Kieltäjä" in before and "Listalla" in before
    run_right(db, "publication_ban", case_id, customer_id, actor="dsrbot")
    after = run_cli("--config", str(cfg), "export", "list", "--purpose", "publication").stdout
    assert "Kieltäjä" not in after and "Listalla" in after
    [mail] = outbox(db)
    assert mail.kind == "publication_ban" and "förbud mot att publicera" in mail.text


def test_a_ban_already_set_is_confirmed_again_without_a_change(db: Database) -> None:
    case_id, customer_id = _case(db, "marketing_optout")
    with db.session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        customer.marketing_ban = True
        s.add(customer)
    outcome = run_right(db, "marketing_optout", case_id, customer_id)
    assert outcome.changed_fields == () and len(outbox(db)) == 1
    assert audit_entries(db)[0].details["already_set"] is True


def test_restriction_stops_every_list_and_is_confirmed(db: Database) -> None:
    case_id, customer_id = _case(db, "restriction", language="en")
    run_right(db, "restriction", case_id, customer_id)
    assert _customer(db, customer_id).processing_restricted
    with db.read_session() as s:
        for purpose in ("publication", "marketing"):
            assert [r.last_name for r in iter_mailing_list(s, purpose)] == ["Listalla"]
    [mail] = outbox(db)
    assert mail.kind == "restriction_outcome" and "Your data is only stored" in mail.text
    assert "Office of the Data Protection Ombudsman" in mail.text


def test_bans_and_restriction_are_never_set_for_an_unverified_requester(db: Database) -> None:
    for right in ("marketing_optout", "publication_ban", "restriction"):
        with db.session() as s:
            c = add_customer(s, f"2{len(right)}", email=f"{right}@example.fi")
            case = open_case(s, c, [right], verified=False)
            handler = HANDLERS[right]
            proposal = handler.propose(s, case, c, {})
            assert proposal.action == "await_identity"
            with pytest.raises(RightsError):
                handler.carry_out(s, case, c, proposal.__class__(right, "carry_out"), "dsrbot")
    assert outbox(db) == []


def test_objection_waits_for_staff_with_the_grounds(db: Database) -> None:
    case_id, customer_id = _case(db, "objection")
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        handler = HANDLERS["objection"]
        proposal = handler.propose(s, case, customer, {"grounds": "En halua profilointia."})
        assert proposal.needs_staff and proposal.params["grounds"] == "En halua profilointia."
        with pytest.raises(RightsError, match="staff decision"):
            handler.carry_out(s, case, customer, proposal, "staff:anna")
    assert outbox(db) == []


@pytest.mark.parametrize("upheld", [True, False])
def test_objection_answer_says_what_was_decided(db: Database, upheld: bool) -> None:
    case_id, customer_id = _case(db, "objection")
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        handler = HANDLERS["objection"]
        proposal = decide(handler.propose(s, case, customer, {"grounds": "x"}), upheld=upheld,
                          note="Sopimuksen hoitaminen edellyttää käsittelyä.")
        outcome = handler.carry_out(s, case, customer, proposal, "staff:anna")
    assert outcome.result == ("done" if upheld else "refused")
    customer = _customer(db, customer_id)
    assert customer.marketing_ban is upheld and customer.publication_ban is upheld
    [mail] = outbox(db)
    assert mail.kind == "objection_outcome"
    assert ("hyväksyneet" in mail.text) is upheld and ("käsittely jatkuu" in mail.text) is (
        not upheld)
    assert "Sopimuksen hoitaminen edellyttää käsittelyä." in mail.text
    assert "Tietosuojavaltuutetun toimisto" in mail.text
    assert audit_entries(db)[0].details["decision"] == ("upheld" if upheld else "rejected")


def test_staff_refusal_sends_a_certificate_with_the_staff_reason(db: Database) -> None:
    case_id, customer_id = _case(db, "portability", language="en")
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        refuse_request(s, case, customer, org=ORG, right="portability", actor="staff:anna",
                       now=NOW, note="The same export was sent to you last week.")
    [mail] = outbox(db)
    assert mail.kind == "refusal" and mail.recipient == "maija.100001@example.fi"
    assert "Certificate of refusal: data portability" in mail.text
    assert "The same export was sent to you last week." in mail.text
    assert "Data Protection Ombudsman" in mail.text


def test_refusal_to_an_unknown_sender_is_the_neutral_reply(db: Database) -> None:
    with db.session() as s:
        case = open_case(s, None, ["access"], verified=False,
                         requester="stranger@example.org")
        refuse_request(s, case, None, org=ORG, right="access", actor="staff:anna",
                       now=NOW, note="Ei asiakas.")
        send_neutral_reply(s, case, org=ORG, actor="staff:anna")
    mails = outbox(db)
    assert [m.kind for m in mails] == ["neutral", "neutral"]
    assert all(m.recipient == "stranger@example.org" for m in mails)
    assert "Ei asiakas" not in mails[0].text


def test_restriction_is_told_to_the_parties_the_data_was_disclosed_to(db: Database) -> None:
    from tests.rights_support import add_disclosure, add_party

    with db.session() as s:
        c = add_customer(s)
        collector = add_party(s, "Perintä Oy", "debt_collection", "tieto@perinta.example")
        add_disclosure(s, c, collector, ["postal_address"], "collection")
        case = open_case(s, c, ["restriction"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    run_right(db, "restriction", case_id, customer_id)
    kinds = {m.kind: m for m in outbox(db)}
    assert set(kinds) == {"restriction_outcome", "recipient_notice"}
    notice = kinds["recipient_notice"]
    assert notice.recipient == "tieto@perinta.example" and "rajoittaneet" in notice.text
    assert "Postiosoite" in notice.text


def test_extension_notice_gives_the_new_date_and_the_reasons(db: Database) -> None:
    from datetime import date

    from handlers.rights import send_extension_notice

    case_id, _ = _case(db, "access", language="en")
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        with pytest.raises(RightsError, match="not been extended"):
            send_extension_notice(s, case, org=ORG, actor="staff:anna")
        case.extended, case.extended_due_date = True, date(2026, 6, 2)
        send_extension_notice(s, case, org=ORG, actor="staff:anna",
                              reason_codes=["number_of_requests"],
                              note="Your request covers twelve years of orders.")
    [mail] = outbox(db)
    assert mail.kind == "extension" and mail.recipient == "maija.100001@example.fi"
    assert "by 2 April 2026" in mail.text and "by 2 June 2026" in mail.text
    assert "we have received a large number of requests" in mail.text
    assert "twelve years of orders" in mail.text and "Data Protection Ombudsman" in mail.text
