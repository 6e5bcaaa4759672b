"""Access (tarkastusoikeus): the full report, in the requester's language, only to the owner."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime

import pytest

from bot.clock import SystemClock
from handlers.clock import FixedClock
from handlers.policy import OrgInfo, RightsPolicy
from handlers.rights import RightsError, make_handlers
from storage.db import Database
from storage.models import Case, Customer
from tests.rights_support import (
    HANDLERS,
    ORG,
    add_customer,
    add_disclosure,
    add_invoice,
    add_order,
    add_party,
    add_provenance,
    audit_entries,
    open_case,
    outbox,
    run_right,
)

AUTHORITY = ("Tietosuojavaltuutetun toimisto", "PL 800", "00521 Helsinki", "029 56 66700",
             "tietosuoja@om.fi", "www.tietosuoja.fi")


def _register(db: Database, language: str = "fi", **overrides: object) -> tuple[str, int]:
    with db.session() as s:
        c = add_customer(s, **overrides)  # type: ignore[arg-type]
        updates = add_party(s, "Osoitepalvelu Oy", "authority_update_service",
                            "paivitys@osoitepalvelu.example")
        collector = add_party(s, "Perintä Oy", "debt_collection", "tieto@perinta.example")
        add_provenance(s, c, "postal_address", updates)
        add_disclosure(s, c, collector, ["first_name", "last_name", "postal_address"],
                       "collection")
        o1 = add_order(s, c, "T-1001", description="Porakone", amount=12990)
        add_order(s, c, "T-1002", description="Tikkaat", amount=4550, when=date(2026, 1, 8))
        add_invoice(s, c, "L-2001", status="in_collection", order=o1)
        add_invoice(s, c, "L-2002", status="open", issued=date(2026, 1, 9), amount=4550)
        case = open_case(s, c, ["access"], language=language)
        assert c.id is not None
        return case.id, c.id


def _pdf_text(pdf: bytes) -> bytes:
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    # decompressobj: the regex may cut a stream's last byte (a line end inside the data)
    return b"".join(zlib.decompressobj().decompress(s) if s[:1] == b"x" else s
                    for s in streams)


def test_access_report_contains_orders_invoices_provenance_and_disclosures(db: Database) -> None:
    case_id, customer_id = _register(db)
    outcome = run_right(db, "access", case_id, customer_id)
    assert outcome.result == "done"
    [mail] = outbox(db)
    assert mail.kind == "access_report" and mail.recipient == "maija.100001@example.fi"
    assert mail.in_reply_to == "<request-1@example.fi>" and case_id in mail.subject
    text = mail.text
    # every register field
    for value in ("100001", "Maija", "Meikäläinen", "Meikäläinen Oy", "toimitusjohtaja",
                  "maija.100001@example.fi", "Hämeenkatu 12 B 7, 33100 Tampere",
                  "+358401234567", "www.example.fi", "192.0.2.7", "2. toukokuuta 2019"):
        assert value in text, value
    # orders and invoices with their states
    for value in ("T-1001", "Porakone", "129,90", "T-1002", "Tikkaat", "45,50", "L-2001",
                  "perinnässä", "L-2002", "avoin"):
        assert value in text, value
    # where each field came from: the record's own source, and the per-field override
    assert "Postiosoite; Lähde: viranomaisen päivityspalvelu (Osoitepalvelu Oy)" in text
    assert "Etunimi; Lähde: oma ilmoituksesi" in text
    # disclosures: to whom, what, why
    assert "perintäyhtiö (Perintä Oy)" in text
    assert "Etunimi, Sukunimi ja Postiosoite" in text and "Peruste: perintä" in text
    # purposes, legal basis, retention, transfers, rights, complaint route
    assert "asiakasrekisterin ylläpitäminen" in text
    assert "oikeusperusteena on sopimus" in text
    assert "asiakkuuden ajan ja 10 vuotta" in text
    assert "Euroopan unionin ulkopuolelle" in text
    assert "Oikeus siirtää tiedot" in text and "Rajoittamisoikeus" in text
    for part in AUTHORITY:
        assert part in text
    assert mail.html is not None and "Perintä Oy" in mail.html and "<table" in mail.html
    [entry] = audit_entries(db)
    assert entry.action == "rights.access.sent" and entry.actor == "staff:anna"
    assert entry.details["orders"] == 2 and entry.details["invoices"] == 2
    assert "Maija" not in str(entry.details)


def test_access_report_pdf_is_attached_and_keeps_finnish_letters(db: Database) -> None:
    case_id, customer_id = _register(db)
    run_right(db, "access", case_id, customer_id)
    [mail] = outbox(db)
    [(name, pdf)] = mail.attachments.items()
    assert name == "tietosuojaraportti-100001.pdf" and pdf.startswith(b"%PDF")
    content = _pdf_text(pdf)
    for value in ("Meikäläinen", "Hämeenkatu 12 B 7", "Perintä Oy", "Tietosuojavaltuutetun"):
        assert value.encode("latin-1") in content, value
    assert "€".encode("windows-1252") in content  # the euro sign, drawn (not spelled out)


def test_access_retention_date_uses_this_customers_relationship_end(db: Database) -> None:
    case_id, customer_id = _register(db, relationship_end=date(2024, 2, 29))
    run_right(db, "access", case_id, customer_id)
    text = outbox(db)[0].text
    assert "Asiakkuutesi päättyi 29. helmikuuta 2024" in text
    assert "28. helmikuuta 2034 asti" in text


@pytest.mark.parametrize(("language", "expected"), [
    ("en", ("Your data in our customer register", "in debt collection",
            "The legal basis for the processing is a contract",
            "an authority's update service (Osoitepalvelu Oy)", "Office of the Data Protection")),
    ("sv", ("Dina uppgifter i vårt kundregister", "under indrivning",
            "Den rättsliga grunden för behandlingen är avtal",
            "en myndighets uppdateringstjänst (Osoitepalvelu Oy)", "Dataombudsmannens byrå")),
])
def test_access_report_follows_the_request_language(
    db: Database, language: str, expected: tuple[str, ...]
) -> None:
    case_id, customer_id = _register(db, language=language)
    run_right(db, "access", case_id, customer_id)
    [mail] = outbox(db)
    for phrase in expected:
        assert phrase in mail.subject + mail.text, phrase
    assert next(iter(mail.attachments)).startswith(
        {"en": "access-report", "sv": "registerutdrag"}[language])


def test_access_report_is_never_sent_to_an_unverified_requester(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["access"], verified=False)
        proposal = HANDLERS["access"].propose(s, case, c, {})
        assert proposal.action == "await_identity"
        with pytest.raises(RightsError, match="not verified"):
            HANDLERS["access"].carry_out(s, case, c, proposal, "staff:anna")
    assert outbox(db) == []


def test_access_report_goes_to_the_registered_address_not_the_sender(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["access"], requester="maija.new@evil.example")
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    run_right(db, "access", case_id, customer_id)
    assert [m.recipient for m in outbox(db)] == ["maija.100001@example.fi"]


def test_access_request_without_signature_needs_staff_when_signatures_are_required(
    db: Database
) -> None:
    strict = make_handlers(OrgInfo(), SystemClock(),
                           RightsPolicy(require_signature=frozenset({"access"})))
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["access"], signature="none")
        proposal = strict["access"].propose(s, case, c, {})
    assert proposal.needs_staff and [r.code for r in proposal.reasons] == ["signature_missing"]


def test_verified_unsigned_access_request_is_answered(db: Database) -> None:
    # By default (TSV 6097/161/21) a verified identity is enough: no signature is demanded.
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["access"], signature="none")
        case_id, customer_id = case.id, c.id
        proposal = HANDLERS["access"].propose(s, case, c, {})
    assert not proposal.needs_staff and proposal.action == "carry_out"
    assert customer_id is not None
    run_right(db, "access", case_id, customer_id)
    assert [m.kind for m in outbox(db)] == ["access_report"]


def test_access_report_escapes_register_values_in_html(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s, first_name="<script>alert(1)</script>", last_name="{{ 7*7 }}")
        case = open_case(s, c, ["access"])
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    run_right(db, "access", case_id, customer_id)
    [mail] = outbox(db)
    assert mail.html is not None
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "{{ 7*7 }}" in mail.text and "49" not in mail.text


def test_proposal_survives_a_round_trip_through_case_details(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["access"], signature="staff_to_check")
        proposal = HANDLERS["access"].propose(s, case, c, {})
        case.details = {**case.details, "proposals": {"access": proposal.to_dict()}}
        s.add(case)
        case_id, customer_id = case.id, c.id
    from handlers.rights import Proposal
    with db.session() as s:
        stored = s.get(Case, case_id)
        customer = s.get(Customer, customer_id)
        assert stored is not None and customer is not None
        again = Proposal.from_dict(stored.details["proposals"]["access"])
        assert again == proposal
        HANDLERS["access"].carry_out(s, stored, customer, again, "staff:anna")
    assert len(outbox(db)) == 1


def test_access_report_is_dated_by_the_clock_it_is_given(db: Database) -> None:
    """The handlers read the time from the caller's clock, never the system's: a report made
    "as of" 4 May 2031 says so (and a test can run a right on any day)."""
    case_id, customer_id = _register(db)
    handler = make_handlers(ORG, FixedClock(datetime(2031, 5, 4, 9, tzinfo=UTC)))["access"]
    with db.session() as s:
        case, customer = s.get(Case, case_id), s.get(Customer, customer_id)
        assert case is not None and customer is not None
        handler.carry_out(s, case, customer, handler.propose(s, case, customer, {}), "staff:anna")
    [mail] = outbox(db)
    assert "4. toukokuuta 2031" in mail.text
