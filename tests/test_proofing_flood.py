"""Floods do not lock the owner out (issue 21, item 5): one confirmation letter per customer per
hour lists every waiting request with its own code, and the owner's reply is never held by the
sender rate limit. End to end through our SMTP receiver, and function by function.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.pipeline import mail_held_confirmations, run_once
from handlers import cases as engine
from handlers.confirmation_letters import (
    mail_due_confirmations,
    mail_held_letter,
    request_confirmation,
)
from handlers.policy import IdentityPolicy, OrgInfo
from storage import migrate
from storage.db import Database
from storage.models import Case, Customer, OutboundMessage
from tests.identity_kit import mail
from tests.proofing_kit import OWNER, Service, make_settings, seed_register

ERASE = "Poistakaa kaikki tietoni rekisteristänne."
AR_FORGED = ("mx.rusttet.fi; dkim=none; spf=fail smtp.mailfrom=evil.test; "
             "dmarc=fail (p=none) header.from=example.fi")


def code_for(body: str, case_id: str) -> str:
    """The code listed for ``case_id`` in a confirmation letter (each request has its own)."""
    after = body[body.index(case_id):]
    match = re.search(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b", after)
    assert match
    return match.group(1)


def an_hour_passes(db: Database) -> None:
    with db.session() as s:
        s.execute(text("UPDATE identitychallenge SET created_at = :t"),
                  {"t": datetime.now(UTC) - timedelta(minutes=61)})


@pytest.fixture
def svc(tmp_path: Path, sqlite_db: Database) -> Iterator[Service]:
    seed_register(sqlite_db)
    service = Service(sqlite_db, make_settings(
        tmp_path, sqlite_db, extra="[mail]\nrate_limit_per_sender = 3\n"))
    yield service
    service.close()


def test_flood_does_not_block_owners_confirmation(svc: Service) -> None:
    forged = [("Authentication-Results", AR_FORGED)]
    svc.send(mail(from_=OWNER, body=ERASE, message_id="<f1@evil.test>", headers=forged))
    svc.send(mail(from_=OWNER, body=ERASE, message_id="<own@example.fi>", subject="Minun"))
    for n in range(2, 5):
        svc.send(mail(from_=OWNER, body=ERASE, message_id=f"<f{n}@evil.test>", headers=forged))
    cases = svc.cases()
    own = next(c for c in cases if c.details.get("subject") == "Minun")
    assert len(svc.letters("identity_challenge", OWNER)) == 1  # one per hour, not one per mail
    an_hour_passes(svc.db)
    run_once(svc.db, svc.settings)
    second = svc.letters("identity_challenge", OWNER)[-1]
    assert own.id in second.body_text and "Minun" in second.body_text
    # Her reply, though her address is over the sender rate limit because of the flood.
    svc.send(mail(from_=OWNER, subject="Re: vahvistus", message_id="<own-reply@example.fi>",
                  body=f"Vahvistan pyyntöni: {code_for(second.body_text, own.id)}"))
    by_id = {c.id: c for c in svc.cases()}
    assert by_id[own.id].verification_level == "verified"
    assert [c.id for c in by_id.values() if c.verification_level == "verified"] == [own.id]


def test_one_letter_an_hour_lists_every_waiting_request_with_its_own_code(
    sqlite_db: Database
) -> None:
    seed_register(sqlite_db)
    org, identity = OrgInfo(), IdentityPolicy()
    now = datetime.now(UTC)
    with sqlite_db.session() as s:
        owner = s.get(Customer, 1)
        assert owner is not None
        opened: list[Case] = []
        for n in range(3):
            case = engine.open_case(s, types=["erasure"], requester=OWNER, language="fi",
                                    received_at=now)
            case.details = {"subject": f"pyyntö {n}"}
            case.status = "awaiting_identity"
            opened.append(case)
            request_confirmation(s, org, identity, case, owner, now)
        assert mail_due_confirmations(s, org, identity, now + timedelta(minutes=30)) == 0
        assert mail_due_confirmations(s, org, identity, now + timedelta(minutes=61)) == 1
        letters = s.exec(select(OutboundMessage)
                         .where(OutboundMessage.kind == "identity_challenge")).all()
        assert len(letters) == 2
        later = letters[-1].body_text
    codes = [code_for(later, c.id) for c in opened[1:]]
    assert opened[0].id not in later and "pyyntö 2" in later
    assert len(set(codes)) == 2  # each request its own code


class _At:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _waits_on_a_lock(db: Database) -> bool:
    with db.read_session() as s:
        return bool(s.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar())


@pytest.mark.postgres
def test_two_instances_mail_a_held_confirmation_letter_once(
    pg_database: str, tmp_path: Path
) -> None:
    """Two instances on one PostgreSQL database run the hourly batch while the first is still
    mailing the held letter: the owner gets that letter once."""
    migrate.upgrade(pg_database)
    first, second = Database(pg_database), Database(pg_database)
    try:
        seed_register(first)
        settings = make_settings(tmp_path, first)
        org, identity = OrgInfo(), IdentityPolicy()
        now = datetime.now(UTC)
        with first.session() as s:
            owner = s.get(Customer, 1)
            assert owner is not None
            for n in range(2):  # the first is mailed at once, the second is held for an hour
                case = engine.open_case(s, types=["erasure"], requester=OWNER, language="fi",
                                        received_at=now)
                case.details = {"subject": f"pyyntö {n}"}
                case.status = "awaiting_identity"
                request_confirmation(s, org, identity, case, owner, now)
        later = now + timedelta(minutes=61)
        other: list[int] = []
        with first.session() as s:  # instance one, mid-letter (not committed yet)
            assert mail_held_letter(s, org, identity, 1, later)
            racer = threading.Thread(target=lambda: other.append(
                mail_held_confirmations(second, settings, _At(later))))
            racer.start()
            while racer.is_alive() and not _waits_on_a_lock(first):
                racer.join(0.05)
        racer.join()
        assert other == [0]
        with first.read_session() as s:
            letters = s.exec(select(OutboundMessage)
                             .where(OutboundMessage.kind == "identity_challenge")).all()
        assert len(letters) == 2 and "pyyntö 1" in letters[1].body_text
        assert mail_held_confirmations(second, settings, _At(later)) == 0
    finally:
        first.dispose()
        second.dispose()
