"""Access covers dsrbot's own holdings (issue 17, rule 3): the report lists the requester's
earlier requests and the kinds of records we keep about them, with their retention."""

from __future__ import annotations

import pytest

from handlers.letters import load_catalogue
from handlers.rights.access import build_report
from storage.db import Database
from storage.models import CaseStatus, Customer
from tests.retention_kit import close_case, days_ago, mail_bytes, store_mail
from tests.rights_support import NOW, ORG, add_customer, open_case, outbox, run_right


@pytest.mark.parametrize("language", ["fi", "en", "sv"])
def test_access_report_lists_earlier_requests(db: Database, language: str) -> None:
    with db.session() as s:
        c = add_customer(s)
        optout = open_case(s, c, ["marketing_optout"])
        close_case(s, optout, at=days_ago(200))
        refused = open_case(s, c, ["rectification", "restriction"])
        close_case(s, refused, at=days_ago(100), status=CaseStatus.REFUSED)
        store_mail(s, mail_bytes(c.email, "Where is my order?"), received_at=days_ago(3),
                   state="processed")
        case = open_case(s, c, ["access"], language=language)
        ids = (optout.id, refused.id, case.id)
        customer_id = c.id
    assert customer_id is not None
    run_right(db, "access", ids[2], customer_id)
    text = next(m for m in outbox(db) if m.kind == "access_report").text
    words = load_catalogue(language)
    assert words.get("access_report.requests_heading") in text
    for case_id in ids[:2]:
        assert case_id in text
    assert words.get("case_outcome.done") in text and words.get("case_outcome.refused") in text
    assert words.get("right.rectification") in text
    # The categories of our own records, each with its retention.
    assert words.get("our_records.cases", count=3, years=3) in text
    assert words.get("our_records.other_mail", count=1, days=30) in text
    assert words.get("our_records.report_files", count=0, days=30) in text


def test_the_request_being_answered_is_not_an_earlier_one(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["access"])
        report = build_report(s, c, ORG, NOW.date(), current_case=case.id)
        stranger = add_customer(s, "100002")
        open_case(s, stranger, ["erasure"])
        assert isinstance(c, Customer)
        again = build_report(s, c, ORG, NOW.date(), current_case=case.id)
    assert report["our_records"]["earlier_requests"] == []
    assert again["our_records"]["earlier_requests"] == []


def test_no_earlier_requests_is_said_in_the_report(db: Database) -> None:
    with db.session() as s:
        c = add_customer(s)
        case = open_case(s, c, ["access"], language="en")
        case_id, customer_id = case.id, c.id
    assert customer_id is not None
    run_right(db, "access", case_id, customer_id)
    text = outbox(db)[0].text
    assert load_catalogue("en").get("access_report.no_earlier_requests") in text
