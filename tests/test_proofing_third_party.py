"""Third parties by name (issue 21, item 3): a request that names another register customer by
first and last name, in any Finnish inflection, always waits for staff, and the sender's own
record is never the one changed for it. Function by function and end to end through our SMTP
receiver.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.identity.names import name_matches, name_pairs, named_customers
from storage.db import Database
from storage.models import CaseStatus
from tests.identity_kit import mail
from tests.proofing_kit import COLLEAGUE, Service, code_in, make_settings, seed_register

# Matti Virtanen (registered) asks to erase his colleague Maija Meikäläinen, by name only.
ERASE_COLLEAGUE = ("Hei, poistakaa työkaverini Maija Meikäläisen kaikki tiedot "
                   "rekisteristänne. Hän on lopettanut.")


@pytest.mark.parametrize("word,registered", [
    ("Virtanen", "Virtanen"), ("Virtasen", "Virtanen"), ("Virtaselle", "Virtanen"),
    ("Meikäläisen", "Meikäläinen"), ("Korhoselta", "Korhonen"), ("Matin", "Matti"),
    ("Pekalle", "Pekka"), ("Maijan", "Maija"),
])
def test_inflected_names_match_the_registered_name(word: str, registered: str) -> None:
    assert name_matches(word, registered)


@pytest.mark.parametrize("word,registered", [
    ("Virta", "Virtanen"), ("Mikko", "Matti"), ("Korhola", "Nieminen"), ("Maikki", "Maija"),
])
def test_other_names_do_not_match(word: str, registered: str) -> None:
    assert not name_matches(word, registered)


def test_third_party_named_by_name_is_found_in_the_register(sqlite_db: Database) -> None:
    seed_register(sqlite_db)
    assert ("Maija", "Meikäläisen") in name_pairs(ERASE_COLLEAGUE)
    with sqlite_db.read_session() as s:
        found = named_customers(s, ERASE_COLLEAGUE)
        assert [c.customer_number for c in found] == ["100001"]
        assert named_customers(s, "Poistakaa tietoni. Terveisin Mikko Mallikas") == []


@pytest.fixture
def svc(tmp_path: Path, sqlite_db: Database) -> Iterator[Service]:
    seed_register(sqlite_db)
    service = Service(sqlite_db, make_settings(tmp_path, sqlite_db, auto_approve=["erasure"]))
    yield service
    service.close()


def test_third_party_named_by_name_waits_for_staff(svc: Service) -> None:
    svc.send(mail(from_=COLLEAGUE, body=ERASE_COLLEAGUE, subject="Tietojen poisto"))
    letter = svc.letters("identity_challenge", COLLEAGUE)[-1]
    svc.send(mail(from_=COLLEAGUE, subject=f"Re: {letter.subject}",
                  body=f"Koodi {code_in(letter)}", message_id="<c2@example.fi>"))
    case = svc.cases()[-1]
    assert case.verification_level == "verified"  # he is who he says...
    assert case.status == CaseStatus.AWAITING_APPROVAL  # ...but he names someone else
    assert any("names another customer" in r for r in case.reasons)
    assert svc.customer("100002").anonymised_at is None  # never his own record
    assert svc.customer("100001").anonymised_at is None
