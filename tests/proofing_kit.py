"""A running receiver, pipeline and outbox over a seeded register, for identity-proofing tests.

Each test mails real bytes over SMTP (smtplib) to our real receiver (``bot.mail.receiver``,
started in a thread with its own event loop, DKIM keys served by ``identity_kit.dkim_world``),
then runs the real pipeline once (``bot.pipeline.run_once``: parse, triage, classifier, identity,
case engine, rights, outbox) and reads what a user would see: the register, the cases and the
letters in the outbox.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.mail.receiver import MailReceiver
from bot.pipeline import run_once
from bot.settings import Settings, load_settings
from storage.db import Database
from storage.models import Case, Customer, IdentityChallenge, OutboundMessage
from tests.identity_kit import dkim_world, pgp_key, register, trusted_pki, write_trust_files

OWNER = "maija.meikalainen@example.fi"
OWNER_NUMBER = "100001"
COLLEAGUE = "matti.virtanen@example.fi"
ATTACKER = "attacker@evil.test"
CODE = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b")


def _toml_list(values: Sequence[object]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def make_settings(tmp: Path, db: Database, *, auto_approve: Sequence[str] = (),
                  extra: str = "", trusted_relays: Sequence[str] = ()) -> Settings:
    certs, keys = write_trust_files(
        tmp, pgp=[pgp_key(f"Maija Meikäläinen <{OWNER}>")], roots=[trusted_pki()])
    cfg = tmp / "proofing.toml"
    cfg.write_text(
        f'[database]\nurl = "{db.url}"\n'
        f"[approval]\nauto_approve = {_toml_list(auto_approve)}\n"
        '[identity]\ntrusted_authserv_ids = ["mx.rusttet.fi"]\n'
        f"trusted_certificates = {_toml_list(certs)}\n"
        f"trusted_openpgp_keys = {_toml_list(keys)}\n"
        f"[mail.receiver]\nport = 0\ntrusted_relays = {_toml_list(trusted_relays)}\n" + extra,
        encoding="utf-8")
    return load_settings(cfg)


def seed_register(db: Database) -> None:
    with db.session() as s:
        for customer in register():
            customer.postal_address = f"Testikatu {customer.id}, 33100 Tampere"
            s.add(customer)


class Service:
    """Our receiver on a free port plus the pipeline, against ``db``."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._loop = asyncio.new_event_loop()
        self._receiver = MailReceiver(settings, db, dns=dkim_world().dns)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._receiver.start(), self._loop).result(30)
        self.port = self._receiver.port

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._receiver.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def send(self, raw: bytes, *, mail_from: str = "sender@example.fi") -> dict[str, int]:
        """Deliver ``raw`` over SMTP, then run the pipeline once; return its counts."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.sendmail(mail_from, ["info@rusttet.fi"], raw)
        return run_once(self.db, self.settings)

    # -- what a user sees ----------------------------------------------------------------------

    def customer(self, number: str = OWNER_NUMBER) -> Customer:
        with self.db.read_session() as s:
            row = s.exec(select(Customer).where(Customer.customer_number == number)).one()
            s.expunge(row)
            return row

    def cases(self) -> list[Case]:
        with self.db.read_session() as s:
            rows = list(s.exec(select(Case).order_by(Case.created_at)).all())
            for row in rows:
                s.expunge(row)
            return rows

    def letters(self, kind: str | None = None, to: str | None = None) -> list[OutboundMessage]:
        with self.db.read_session() as s:
            rows = [r for r in s.exec(select(OutboundMessage).order_by(OutboundMessage.id))
                    if (kind is None or r.kind == kind) and (to is None or r.recipient == to)]
            for row in rows:
                s.expunge(row)
            return rows

    def challenges(self) -> list[IdentityChallenge]:
        with self.db.read_session() as s:
            rows = list(s.exec(select(IdentityChallenge)).all())
            for row in rows:
                s.expunge(row)
            return rows

    def code_letter(self) -> OutboundMessage:
        letters = self.letters("identity_challenge", OWNER)
        assert letters, "no confirmation letter went to the registered address"
        return letters[-1]


def code_in(letter: OutboundMessage) -> str:
    match = CODE.search(letter.body_text)
    assert match, "no code in the letter"
    return match.group(1)


def codes_in(letter: OutboundMessage) -> list[str]:
    return CODE.findall(letter.body_text)


def as_dict(row: Any) -> dict[str, Any]:
    return dict(row.model_dump())
