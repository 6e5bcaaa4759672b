"""The one rule above all, end to end: impostors change nothing and learn nothing.

Every impostor scenario (tests/impostor_scenarios.py) is mailed through the real pipeline:
parse, triage, the trained classifier, identity and signature checks, the case engine, the
rights handlers and the outbox. Every request type is auto-approved, so nothing but identity
stands between the attacker and the register. Afterwards:

* the register is exactly as before, field by field;
* no outbound letter to an address outside the register carries any personal data of any
  customer (names, email addresses, phone numbers, postal addresses, customer numbers);
* no letter of a kind that carries personal data goes anywhere but a registered address.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.pipeline import run_once
from bot.settings import REQUEST_TYPES, Settings, load_settings
from handlers.fields import normalise_email
from storage import audit, inbox
from storage.db import Database
from storage.models import Customer, OutboundMessage
from tests.identity_kit import pgp_key, register, trusted_pki, write_trust_files
from tests.impostor_scenarios import VICTIM, Scenario, scenarios

#: Letters whose whole point is personal data: they may only go to a registered address.
PERSONAL_KINDS = frozenset({"access_report", "portability", "rectification_done",
                            "erasure_done", "erasure_partial"})
SCENARIOS = scenarios()


@pytest.fixture
def world(tmp_path: Path, sqlite_db: Database) -> tuple[Database, Settings]:
    certs, keys = write_trust_files(
        tmp_path, pgp=[pgp_key(f"Maija Meikäläinen <{VICTIM}>")], roots=[trusted_pki()])
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[database]\nurl = "{sqlite_db.url}"\n'
        f"[approval]\nauto_approve = {list(REQUEST_TYPES)!r}\n".replace("'", '"')
        + '[identity]\ntrusted_authserv_ids = ["mx.rusttet.fi"]\n'
        + f"trusted_certificates = {[str(p) for p in certs]!r}\n".replace("'", '"')
        + f"trusted_openpgp_keys = {[str(p) for p in keys]!r}\n".replace("'", '"'),
        encoding="utf-8")
    settings = load_settings(cfg)
    with sqlite_db.session() as s:
        for customer in register():
            customer.postal_address = f"Testikatu {customer.id}, 33100 Tampere"
            s.add(customer)
    return sqlite_db, settings


def snapshot(db: Database) -> list[dict[str, object]]:
    with db.read_session() as s:
        return [c.model_dump() for c in s.exec(select(Customer).order_by(Customer.id))]


def personal_tokens(customers: list[dict[str, object]]) -> set[str]:
    tokens: set[str] = set()
    for c in customers:
        for key in ("last_name", "email", "phone", "customer_number", "postal_address"):
            value = str(c.get(key) or "")
            if len(value) >= 4:
                tokens.add(value.lower())
        phone = str(c.get("phone") or "")
        if phone.startswith("+358"):
            tokens.add("0" + phone[4:])  # the national form of the same number
    return tokens


def deliver(db: Database, settings: Settings, raw: bytes) -> None:
    with db.session() as s:
        inbox.store_inbound(s, raw, channel="smtp", envelope_from="",
                            envelope_to=["info@rusttet.fi"], received_at=datetime.now(UTC))
    run_once(db, settings)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_impostor_changes_nothing_and_no_personal_data_leaves_the_register(
    world: tuple[Database, Settings], scenario: Scenario
) -> None:
    db, settings = world
    before = snapshot(db)
    registered = {normalise_email(str(c["email"])) for c in before}
    for raw in (scenario.raw, *scenario.followups):
        deliver(db, settings, raw)
    for who, answer in scenario.answers:
        with db.read_session() as s:
            letter = s.exec(select(OutboundMessage)
                            .where(OutboundMessage.kind == "identity_challenge")
                            .where(OutboundMessage.recipient == who)
                            .order_by(col(OutboundMessage.id).desc())).first()
        assert letter is not None, f"{scenario.name}: no code letter to {who}"
        deliver(db, settings, answer(letter.subject, letter.body_text, letter.message_id))
    assert snapshot(db) == before, f"{scenario.name}: {scenario.story}"
    tokens = personal_tokens(before)
    victim_tokens = personal_tokens(
        [c for c in before if c["customer_number"] == scenario.victim])
    forbidden = {normalise_email(a) for a in scenario.forbidden_recipients}
    with db.read_session() as s:
        sent = s.exec(select(OutboundMessage)).all()
        assert audit.verify(s).ok
    for row in sent:
        inside = normalise_email(row.recipient) in registered
        if row.kind in PERSONAL_KINDS:
            assert inside, f"{scenario.name}: {row.kind} went to an outside address"
        if not inside:
            text = f"{row.subject}\n{row.body_text}\n{row.body_html or ''}".lower()
            leaked = sorted(t for t in tokens if t in text)
            assert not leaked, f"{scenario.name}: {row.kind} to outside address leaks {leaked}"
        if normalise_email(row.recipient) in forbidden:
            # Even a registered colleague gets nothing about the victim.
            text = f"{row.subject}\n{row.body_text}\n{row.body_html or ''}".lower()
            assert row.kind not in PERSONAL_KINDS, f"{scenario.name}: {row.kind} to attacker"
            leaked = sorted(t for t in victim_tokens if t in text)
            assert not leaked, f"{scenario.name}: {row.kind} to attacker leaks {leaked}"
