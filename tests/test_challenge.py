"""The one-time confirmation: to the registered address only, hashed, limited, single use."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from bot.settings import IdentitySettings
from handlers.challenge import (
    CODE_BITS,
    ChallengeError,
    challenge_recipient,
    confirm_challenge,
    find_codes,
    hash_code,
    issue_challenge,
    new_code,
    normalise_code,
    record_staff_verification,
)
from storage import audit
from storage.cases import create_case
from storage.db import Database
from storage.models import AuditEntry, Case, Customer, IdentityChallenge
from tests import factories
from tests.identity_kit import NOW

REGISTERED = "Maija.Meikalainen@Example.fi"


def _setup(session: Session, email: str = REGISTERED) -> tuple[Case, Customer]:
    customer = factories.add_customer(session, "100001", at=NOW, last_name="M", email=email)
    case = create_case(session, types=["access"], requester="someone", language="fi",
                       received_at=NOW, due_date=NOW.date() + timedelta(days=30),
                       customer_id=customer.id)
    return case, customer


def _issue(db: Database, **settings: int) -> tuple[str, str]:
    with db.session() as s:
        case, customer = _setup(s)
        _, code = issue_challenge(s, case, customer, NOW, settings=IdentitySettings(**settings))
        return case.id, code


def test_challenge_goes_to_the_address_already_in_the_register(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        case, customer = _setup(s)
        issue_challenge(s, case, customer, NOW)
        assert challenge_recipient(customer) == REGISTERED


def test_no_challenge_for_a_customer_without_an_address(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        case, customer = _setup(s, email="")
        with pytest.raises(ChallengeError):
            issue_challenge(s, case, customer, NOW)


def test_code_is_stored_only_as_a_hash(sqlite_db: Database) -> None:
    _, code = _issue(sqlite_db)
    with sqlite_db.read_session() as s:
        row = s.exec(select(IdentityChallenge)).one()
        assert row.code_hash == hash_code(code)
        assert code not in row.code_hash
        entries = s.exec(select(AuditEntry)).all()
        assert not any(code in str(e.details) for e in entries)


def test_codes_have_enough_entropy_and_a_readable_shape() -> None:
    assert CODE_BITS >= 80
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", c) for c in codes)


def test_correct_code_verifies_the_case_once(db: Database) -> None:
    case_id, code = _issue(db)
    with db.session() as s:
        result = confirm_challenge(s, case_id, code.lower(), NOW + timedelta(hours=1),
                                   sender=REGISTERED.lower())
        assert result.ok
        case = s.get(Case, case_id)
        assert case is not None and case.verification_level == "verified"
    with db.session() as s:
        again = confirm_challenge(s, case_id, code, NOW + timedelta(hours=2))
        assert again.outcome == "no_challenge"


def test_wrong_code_counts_an_attempt_and_the_limit_exhausts_the_challenge(db: Database) -> None:
    case_id, code = _issue(db, challenge_max_attempts=3)
    outcomes = []
    with db.session() as s:
        for _ in range(3):
            outcomes.append(confirm_challenge(s, case_id, new_code(), NOW).outcome)
        outcomes.append(confirm_challenge(s, case_id, code, NOW).outcome)
    assert outcomes == ["wrong", "wrong", "exhausted", "exhausted"]
    with db.read_session() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.verification_level != "verified"


def test_expired_code_does_not_verify(db: Database) -> None:
    case_id, code = _issue(db, challenge_ttl_hours=1)
    with db.session() as s:
        result = confirm_challenge(s, case_id, code, NOW + timedelta(hours=1, seconds=1))
        assert result.outcome == "expired"


def test_correct_code_from_another_address_revokes_the_challenge(db: Database) -> None:
    case_id, code = _issue(db)
    with db.session() as s:
        result = confirm_challenge(s, case_id, code, NOW, sender="attacker@evil.test")
        assert result.outcome == "wrong_sender"
    with db.session() as s:
        assert confirm_challenge(s, case_id, code, NOW, sender=REGISTERED).outcome == (
            "no_challenge")
        case = s.get(Case, case_id)
        assert case is not None and case.verification_level != "verified"


def test_a_new_challenge_supersedes_the_old_code(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        case, customer = _setup(s)
        _, old = issue_challenge(s, case, customer, NOW)
        _, new = issue_challenge(s, case, customer, NOW + timedelta(minutes=5))
        case_id = case.id
    with sqlite_db.session() as s:
        assert confirm_challenge(s, case_id, old, NOW).outcome == "wrong"
        assert confirm_challenge(s, case_id, new, NOW).ok


def test_code_of_one_case_does_not_confirm_another(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        case, customer = _setup(s)
        other = create_case(s, types=["erasure"], requester="x", language="fi",
                            received_at=NOW, due_date=NOW.date(), customer_id=customer.id)
        _, code = issue_challenge(s, case, customer, NOW)
        issue_challenge(s, other, customer, NOW)
        other_id = other.id
    with sqlite_db.session() as s:
        assert confirm_challenge(s, other_id, code, NOW).outcome == "wrong"


def test_case_without_challenge_reports_no_challenge(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        case, _ = _setup(s)
        assert confirm_challenge(s, case.id, new_code(), NOW).outcome == "no_challenge"


def test_every_confirmation_attempt_is_audited_without_personal_data(db: Database) -> None:
    case_id, code = _issue(db)
    with db.session() as s:
        confirm_challenge(s, case_id, new_code(), NOW)
        confirm_challenge(s, case_id, code, NOW, sender=REGISTERED)
    with db.read_session() as s:
        rows = s.exec(select(AuditEntry).where(col(AuditEntry.action).like("identity.%"))
                      .order_by(col(AuditEntry.id))).all()
        assert [r.action for r in rows] == ["identity.challenge_issued",
                                            "identity.challenge_wrong", "identity.challenge_ok"]
        assert all(r.case_id == case_id for r in rows)
        assert not any("@" in str(r.details) for r in rows)
        assert audit.verify(s).ok


def test_staff_verification_is_attributed(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        case, customer = _setup(s)
        record_staff_verification(s, case, customer, actor=audit.staff_actor("anna"),
                                  reason="called the registered phone number", now=NOW)
        entry = s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
        assert entry is not None and entry.actor == "staff:anna"
        assert case.verification_level == "verified"


def test_find_codes_reads_quoted_and_retyped_codes() -> None:
    code = "7KQ2-M9XD-0PAW-3RNB"
    text = f"Kiitos!\n\n> Vahvistuskoodi: {code}\n> DSR-2026-0001"
    assert find_codes(text) == [code]
    assert find_codes("koodi 7kq2 m9xd 0paw 3rnb") == [code]
    assert find_codes("koodi 7KQ2–M9XD–OPAW–3RNB") == [code]  # en dashes, letter O for zero


def test_find_codes_ignores_words_hashes_and_case_ids() -> None:
    text = ("Tietosuojavaltuutetun toimisto DSR-2026-0001 "
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "
            "ABCD-EFGH-IJKL-MNOPQ")
    assert find_codes(text) == []


def test_find_codes_takes_at_most_three_candidates() -> None:
    text = " ".join(new_code() for _ in range(10))
    assert len(find_codes(text)) == 3


def test_normalise_code_rejects_letters_outside_the_alphabet() -> None:
    assert normalise_code("UUUU-0000-0000-0000") is None
    assert normalise_code("not a code") is None
