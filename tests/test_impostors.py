"""The impostor suite at the level of the identity functions.

For every scenario in :mod:`tests.impostor_scenarios`: the mail never reaches ``verified``,
never may change the register, never may send personal data (not to the victim's registered
address before verification, and not to any other address even after it), raises the flags
staff need, and a confirmation goes only to the address already in the register. The same
scenarios are meant to be replayed end to end through the pipeline and outbox.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from handlers.challenge import challenge_recipient, confirm_challenge, find_codes, issue_challenge
from handlers.identity import (
    LEVELS,
    IdentityAssessment,
    assess_identity,
    candidate_keys,
    mark_verified,
    may_change_register,
    may_send_personal_data,
)
from handlers.parse import ParsedMessage
from handlers.signatures import binding, check_signatures
from storage.candidates import find_candidates
from storage.cases import create_case
from storage.db import Database
from storage.models import Case, Customer
from storage.register import customers_by_email
from tests.identity_kit import (
    NOW,
    OUR_ADDRESS,
    by_email,
    candidates_in_memory,
    dkim_world,
    parse,
    register,
    settings,
)
from tests.impostor_scenarios import Scenario, scenario_trust, scenarios

ALL = scenarios()
_ADDRESS = re.compile(r"[^\s<>\"',;:()]+@[^\s<>\"',;:()]+\.[^\s<>\"',;:().]+")


def _assess(raw: bytes) -> tuple[ParsedMessage, IdentityAssessment]:
    customers = register()
    parsed = parse(raw)
    signature = check_signatures(parsed, scenario_trust())
    # As the pipeline does: a valid signature counts only over this request (issue 21).
    bound = binding.bind(signature, text=parsed.text, body_is_request=True,
                         received_at=datetime.now(UTC), max_age_days=30)
    if signature.state == "valid" and not bound.bound:
        signature = binding.unbound(signature, bound.reason)
    assessment = assess_identity(
        parsed, by_email(customers, parsed.from_address),
        candidates_in_memory(customers, parsed.text, parsed.from_address), settings(),
        raw=raw, dns=dkim_world().dns, signature=signature, protected_addresses=[OUR_ADDRESS])
    return parsed, assessment


def _addresses_in(parsed: ParsedMessage) -> set[str]:
    found = {parsed.from_address, *parsed.reply_to}
    for _, value in parsed.headers:
        found.update(_ADDRESS.findall(value))
    found.update(_ADDRESS.findall(parsed.text))
    found.update(_ADDRESS.findall(parsed.from_display))
    return {a.strip(".") for a in found if a}


def test_the_suite_has_at_least_twenty_scenarios() -> None:
    assert len(ALL) >= 20
    assert len({s.name for s in ALL}) == len(ALL)


@pytest.mark.parametrize("scenario", ALL, ids=[s.name for s in ALL])
def test_impostor_never_gets_data_nor_changes_the_register(scenario: Scenario) -> None:
    customers = {c.customer_number: c for c in register()}
    victim = customers[scenario.victim]
    for raw in (scenario.raw, *scenario.followups):
        parsed, assessment = _assess(raw)
        context = f"{scenario.name}: {scenario.story}; {assessment}"
        assert LEVELS.index(assessment.level) <= LEVELS.index(scenario.max_level), context
        assert assessment.level != "verified", context
        assert not may_change_register(assessment), context
        assert not may_send_personal_data(assessment, victim.email, victim), context

        # Even once the real customer confirms, nothing goes anywhere but the register.
        confirmed = mark_verified(assessment, victim.id or 0, "challenge confirmed")
        outside = _addresses_in(parsed) | set(scenario.forbidden_recipients)
        for address in outside:
            for customer in customers.values():
                if address.strip().lower() != customer.email.lower():
                    assert not may_send_personal_data(confirmed, address, customer), (
                        f"{context}: {address}")

        # A challenge can only ever go to an address already in the register.
        if assessment.customer_id is not None:
            matched = next(c for c in customers.values() if c.id == assessment.customer_id)
            assert challenge_recipient(matched) == matched.email
            if matched.id == victim.id:
                assert challenge_recipient(matched).lower() not in {
                    a.lower() for a in scenario.forbidden_recipients}


@pytest.mark.parametrize("scenario", ALL, ids=[s.name for s in ALL])
def test_impostor_mail_raises_the_expected_flags(scenario: Scenario) -> None:
    _, assessment = _assess(scenario.raw)
    missing = scenario.flags - set(assessment.flags)
    assert not missing, f"{scenario.name}: missing {missing}; got {assessment.flags}"
    expected_match = None
    if scenario.matched is not None:
        expected_match = next(c.id for c in register()
                              if c.customer_number == scenario.matched)
    assert assessment.customer_id == expected_match, scenario.name
    victim_id = next(c.id for c in register() if c.customer_number == scenario.victim)
    if scenario.matched != scenario.victim:
        assert assessment.customer_id != victim_id, scenario.name


def test_flag_reasons_name_no_address_and_no_customer_number() -> None:
    for scenario in ALL:
        _, assessment = _assess(scenario.raw)
        for reason in assessment.reasons:
            assert "@" not in reason and scenario.victim not in reason, (scenario.name, reason)


def test_guessed_codes_never_confirm_a_case(sqlite_db: Database) -> None:
    guessing = [s for s in ALL if s.guessed_codes]
    assert guessing
    with sqlite_db.session() as s:
        victim = _seed_victim(s)
        case = create_case(s, types=["access"], requester="forged", language="fi",
                           received_at=NOW, due_date=NOW.date() + timedelta(days=30),
                           customer_id=victim.id)
        _, real = issue_challenge(s, case, victim, NOW)
        for scenario in guessing:
            parsed = parse(scenario.raw)
            for code in [*scenario.guessed_codes, *find_codes(parsed.text)]:
                result = confirm_challenge(s, case.id, code, NOW, sender=parsed.from_address)
                assert not result.ok
        # Even the right code, when it arrives from the attacker, is refused and revoked.
        leaked = confirm_challenge(s, case.id, real, NOW, sender="attacker@evil.test")
        assert leaked.outcome in ("wrong_sender", "exhausted")
        stored = s.get(Case, case.id)
        assert stored is not None and stored.verification_level != "verified"


def test_register_lookups_give_the_victim_as_candidate_only(sqlite_db: Database) -> None:
    """With the real storage look-ups: names and numbers in the text never make a match."""
    with sqlite_db.session() as s:
        _seed_register(s)
        for scenario in ALL:
            parsed = parse(scenario.raw)
            registered = customers_by_email(s, parsed.from_address)
            candidates = find_candidates(
                s, candidate_keys(parsed.text, sender=parsed.from_address))
            assessment = assess_identity(parsed, registered, candidates, settings(),
                                         raw=scenario.raw, dns=dkim_world().dns)
            assert not may_change_register(assessment), scenario.name
            if scenario.matched is None:
                assert assessment.customer_id is None, scenario.name


def _seed_register(session: Session) -> list[Customer]:
    rows = []
    for c in register():
        row = Customer(**{k: v for k, v in c.model_dump().items() if k != "id"})
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _seed_victim(session: Session) -> Customer:
    rows = _seed_register(session)
    victim = session.exec(select(Customer).where(Customer.customer_number == "100001")).one()
    assert victim in rows
    return victim
