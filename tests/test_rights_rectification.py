"""Rectification: validated, applied with history, told to sources and recipients (Art. 19);
a refusal is a certificate with reasons; the registered email changes only with care."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from bot.clock import SystemClock
from handlers.policy import OrgInfo, RightsPolicy
from handlers.rights import RightsError
from storage.db import Database
from storage.models import Case, Customer, FieldChange, FieldProvenance
from storage.register import customers_by_email
from tests.rights_support import (
    HANDLERS,
    add_customer,
    add_disclosure,
    add_party,
    add_provenance,
    audit_entries,
    make_handlers,
    open_case,
    outbox,
    run_right,
)


def _case(db: Database, **case_options: object) -> tuple[str, int]:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["rectification"], **case_options)  # type: ignore[arg-type]
        assert c.id is not None
        return case.id, c.id


def _change(field: str, value: str, grounds: str = "muutin") -> dict[str, object]:
    return {"changes": [{"field": field, "value": value, "grounds": grounds}]}


def test_rectification_notifies_source_and_recipients(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        updates = add_party(s, "Osoitepalvelu Oy", "authority_update_service",
                            "korjaukset@osoitepalvelu.example")
        collector = add_party(s, "Perintä Oy", "debt_collection", "tieto@perinta.example")
        credit = add_party(s, "Luottotieto Oy", "credit_information", "rek@luotto.example")
        add_provenance(s, c, "postal_address", updates)
        add_disclosure(s, c, collector, ["first_name", "postal_address"], "collection")
        add_disclosure(s, c, credit, ["phone"], "credit_decision")  # not the changed field
        case = open_case(s, c, ["rectification"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    outcome = run_right(db, "rectification", case_id, customer_id,
                        _change("postal_address", "Rantatie 3, 00100 Helsinki", "muutin"))
    assert outcome.result == "done" and outcome.changed_fields == ("postal_address",)
    mails = outbox(db)
    notices = {m.recipient: m for m in mails if m.kind == "rectification_notice"}
    assert set(notices) == {"korjaukset@osoitepalvelu.example", "tieto@perinta.example"}
    source = notices["korjaukset@osoitepalvelu.example"]
    assert "olemme saaneet teiltä" in source.text and "100001" in source.text
    assert "Rantatie 3, 00100 Helsinki" in source.text
    assert "olemme luovuttaneet teille" in notices["tieto@perinta.example"].text
    assert all(m.in_reply_to is None for m in notices.values())  # not in the requester's thread
    [done] = [m for m in mails if m.kind == "rectification_done"]
    assert done.recipient == "maija.100001@example.fi"
    assert "Osoitepalvelu Oy" in done.text and "Perintä Oy" in done.text
    assert "Tietosuojavaltuutetun toimisto" in done.text
    [entry] = audit_entries(db)
    assert entry.action == "rights.rectification.applied"
    assert entry.details["fields"] == ["postal_address"]
    assert len(entry.details["notified_party_ids"]) == 2
    assert "Rantatie" not in str(entry.details)


def test_party_without_an_address_is_left_for_staff_and_named_in_the_letter(
    db: Database
) -> None:
    with db.session() as s:
        c = add_customer(s)
        subcontractor = add_party(s, "Alihankinta Oy", "subcontractor", None)
        add_provenance(s, c, "phone", subcontractor)
        case = open_case(s, c, ["rectification"])
        case_id, customer_id, party_id = case.id, c.id, subcontractor.id
    assert customer_id is not None
    run_right(db, "rectification", case_id, customer_id, _change("phone", "050 765 4321"))
    assert [m.kind for m in outbox(db)] == ["rectification_done"]
    assert "Ilmoitamme korjauksesta erikseen" in outbox(db)[0].text
    assert audit_entries(db)[0].details["unnotified_party_ids"] == [party_id]


def test_rectification_keeps_history_and_stores_the_normalised_value(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        updates = add_party(s, "Numeropalvelu Oy", "company_update_service", None)
        add_provenance(s, c, "phone", updates)
        case = open_case(s, c, ["rectification"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    run_right(db, "rectification", case_id, customer_id,
              _change("phone", "050 765 4321", "numero vaihtui"))
    with db.read_session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None and customer.phone == "+358507654321"
        [history] = s.exec(select(FieldChange)).all()
        assert (history.field, history.old_value, history.grounds, history.actor,
                history.case_id) == ("phone", "+358401234567", "numero vaihtui", "staff:anna",
                                     case_id)
        # the phone now comes from the customer, so the update service's claim is gone
        assert s.exec(select(FieldProvenance).where(FieldProvenance.field == "phone")).all() == []
    assert "+358507654321" in outbox(db)[0].text


def test_rectification_of_email_confirms_to_the_old_address(db: Database) -> None:
    case_id, customer_id = _case(db)
    outcome = run_right(db, "rectification", case_id, customer_id,
                        _change("email", "Maija.Uusi@Example.FI"))
    assert outcome.result == "done"
    [mail] = outbox(db)
    assert mail.kind == "rectification_done"
    assert mail.recipient == "maija.100001@example.fi"  # the OLD registered address
    assert "Maija.Uusi@Example.FI" in mail.text and "aiempaan osoitteeseesi" in mail.text
    with db.read_session() as s:
        assert [c.id for c in customers_by_email(s, "maija.uusi@example.fi")] == [customer_id]
        assert customers_by_email(s, "maija.100001@example.fi") == []


def test_email_change_is_never_done_on_an_unverified_request(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["rectification"], verified=False,
                         requester="maija@attacker.example")
        handler = HANDLERS["rectification"]
        proposal = handler.propose(s, case, c, _change("email", "maija@attacker.example"))
        assert proposal.action == "await_identity"
        forged = proposal.__class__("rectification", "carry_out", params={
            "changes": [{"field": "email", "value": "maija@attacker.example", "grounds": ""}]})
        with pytest.raises(RightsError, match="not verified"):
            handler.carry_out(s, case, c, forged, "staff:anna")
        customer_id = c.id
    with db.read_session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None and customer.email == "maija.100001@example.fi"
    assert outbox(db) == []


def test_email_change_always_waits_for_staff_and_is_never_automatic(db: Database) -> None:
    case_id, customer_id = _case(db)
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        handler = HANDLERS["rectification"]
        proposal = handler.propose(s, case, customer, _change("email", "uusi@example.fi"))
        assert proposal.needs_staff
        with pytest.raises(RightsError, match="staff decision"):
            handler.carry_out(s, case, customer, proposal, "dsrbot")
    with db.read_session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None and customer.email == "maija.100001@example.fi"


INVALID = [
    ("postal_address", "Rantatie 3, Helsinki", "invalid_postal_address"),
    ("email", "not-an-address", "invalid_email"),
    ("phone", "12", "invalid_phone"),
    ("ip_address", "300.1.2.3", "invalid_ip_address"),
    ("www", "not a web address", "invalid_www"),
    ("last_name", "   ", "name_required"),
    ("position", "x" * 201, "value_too_long"),
    ("shoe_size", "44", "unknown_field"),
    ("phone", "+358 40 123 4567", "value_unchanged"),
]


def test_invalid_values_are_refused_with_a_reason_each(db: Database) -> None:
    case_id, customer_id = _case(db)
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        for field, value, code in INVALID:
            proposal = HANDLERS["rectification"].propose(s, case, customer,
                                                         _change(field, value))
            assert proposal.action == "refuse", field
            assert [r.code for r in proposal.reasons] == [code], field


def test_rectification_refusal_is_a_certificate_with_reasons_and_the_ombudsman(
    db: Database
) -> None:
    case_id, customer_id = _case(db)
    outcome = run_right(db, "rectification", case_id, customer_id,
                        _change("postal_address", "Rantatie 3, Helsinki"))
    assert outcome.result == "refused"
    [mail] = outbox(db)
    assert mail.kind == "refusal" and mail.recipient == "maija.100001@example.fi"
    assert "Todistus pyynnön epäämisestä: tietojen korjaaminen" in mail.text
    assert "viisinumeroinen postinumero" in mail.text
    assert "tietosuojavaltuutetun ratkaistavaksi" in mail.text
    assert "Tietosuojavaltuutetun toimisto" in mail.text and "tietosuoja@om.fi" in mail.text
    with db.read_session() as s:
        assert s.exec(select(FieldChange)).all() == []
        customer = s.get(Customer, customer_id)
        assert customer is not None and customer.postal_address.startswith("Hämeenkatu")


def test_valid_changes_are_made_and_invalid_ones_refused_in_the_same_answer(
    db: Database
) -> None:
    case_id, customer_id = _case(db)
    outcome = run_right(db, "rectification", case_id, customer_id, {"changes": [
        {"field": "phone", "value": "050 765 4321"},
        {"field": "postal_address", "value": "ei postinumeroa"}]})
    assert outcome.result == "done" and outcome.changed_fields == ("phone",)
    assert [m.kind for m in outbox(db)] == ["rectification_done", "refusal"]
    assert "viisinumeroinen postinumero" in outbox(db)[1].text


@dataclass
class Entity:
    label: str
    text: str
    start: int
    end: int
    field: str | None = None
    value: str | None = None


def test_rectification_takes_changes_from_classifier_entities(db: Database) -> None:
    case_id, customer_id = _case(db)
    entities = [Entity("EMAIL", "x@example.fi", 0, 12),  # no field: just a mention
                Entity("POSTAL_ADDRESS", "Rantatie 3, 00100 Helsinki", 20, 46,
                       field="postal_address", value="Rantatie 3, 00100 Helsinki")]
    outcome = run_right(db, "rectification", case_id, customer_id,
                        {"entities": entities, "grounds": "muutto"})
    assert outcome.changed_fields == ("postal_address",)
    with db.read_session() as s:
        [history] = s.exec(select(FieldChange)).all()
        assert history.grounds == "muutto"


def test_rectification_without_a_field_goes_to_staff(db: Database) -> None:
    case_id, customer_id = _case(db)
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        proposal = HANDLERS["rectification"].propose(s, case, customer, {"entities": []})
    assert proposal.action == "ask_staff" and proposal.needs_staff
    assert [r.code for r in proposal.reasons] == ["no_changes"]


def test_unsigned_rectification_needs_staff_when_signatures_are_required(db: Database) -> None:
    case_id, customer_id = _case(db, signature="staff_to_check")
    strict = make_handlers(OrgInfo(), SystemClock(),
                           RightsPolicy(require_signature=frozenset({"rectification"})))
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        proposal = strict["rectification"].propose(s, case, customer,
                                                     _change("phone", "0507654321"))
    assert proposal.needs_staff and "signature_missing" in [r.code for r in proposal.reasons]
