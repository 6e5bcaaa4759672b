"""The whole service in one event loop against real peers: an access request end to end.

Mail comes in through a real Dovecot (the IMAP watcher), letters go out over SMTP to an aiosmtpd
sink, staff decide in the real python-telegram-bot talking to the fake Bot API. The components
are the ones ``dsrbot run`` builds (``build_components``), started in the test's loop.

The promise checked here: a request signed with the customer's trusted OpenPGP key from the
registered address gets a receipt, appears to staff with its buttons, and once an approver taps
Approve the access report goes to the registered address; the request leaves INBOX and the
audit chain verifies.

The module also holds the harness the other end-to-end modules import (:class:`Service`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.service import Component, build_components
from bot.settings import Settings
from storage import audit, migrate
from storage.db import Database
from storage.models import AuditEntry, Case, Customer, InboundMessage, Invoice
from storage.register import ensure_default_parties
from tests import factories
from tests.fixtures.dovecot import DovecotServer, dovecot, dovecot_server  # noqa: F401
from tests.fixtures.fake_telegram import STAFF_CHAT_ID, FakeTelegram
from tests.fixtures.smtp_sink import SmtpSink
from tests.identity_kit import clearsign, mail, pgp_key, write_trust_files

REGISTERED = "maija.virtanen@example.fi"
UID = f"Maija Virtanen <{REGISTERED}>"
APPROVER_ID = 111111
INVOICE = "90000417"
PROCESSED_FOLDER = "dsrbot/processed"


@dataclass
class Service:
    """The running service and its peers, as one test sees them."""

    settings: Settings
    db: Database
    components: list[Component]
    sink: SmtpSink
    fake: FakeTelegram
    imap: DovecotServer | None
    customer_id: int
    started: list[Component] = field(default_factory=list)

    def component(self, name: str) -> Any:
        return next(c for c in self.components if c.name == name)

    async def start(self) -> None:
        for component in self.components:
            await component.start()
            self.started.append(component)

    async def stop(self) -> None:
        for component in reversed(self.started):
            await asyncio.wait_for(component.stop(), timeout=15)
        self.started.clear()

    # -- what the test looks at ------------------------------------------------------------

    def letters(self, kind_subject: str = "") -> list[EmailMessage]:
        return [m for m in self.sink.messages if kind_subject in str(m["Subject"] or "")]

    def cases(self) -> list[Case]:
        with self.db.read_session() as s:
            return list(s.exec(select(Case)).all())

    def customer(self) -> Customer:
        with self.db.read_session() as s:
            row = s.get(Customer, self.customer_id)
            assert row is not None
            return row

    def inbound(self) -> list[InboundMessage]:
        with self.db.read_session() as s:
            return list(s.exec(select(InboundMessage)).all())

    def audit_ok(self) -> bool:
        with self.db.read_session() as s:
            return audit.verify(s).ok


def service_settings(
    db_url: str, *, sink: SmtpSink, fake: FakeTelegram, imap: DovecotServer | None,
    trust_keys: list[Path], **overrides: Any,
) -> Settings:
    """The configuration an operator would write, pointed at the test's peers."""
    values: dict[str, Any] = {
        "database": {"url": db_url},
        "mail": {
            "outgoing": {"backend": "smtp", "host": sink.hostname, "port": sink.port,
                         "max_attempts": 50},
            "receiver": {"enabled": True, "host": "127.0.0.1", "port": 0},
            "imap": ({"enabled": True, "host": imap.host, "port": imap.port, "ssl": False,
                      "username": imap.user, "password": imap.password,
                      "processed_folder": PROCESSED_FOLDER, "start_from": "all",
                      "poll_seconds": 0.5} if imap else {"enabled": False}),
        },
        "identity": {"trusted_openpgp_keys": [str(p) for p in trust_keys]},
        "chat": {"backend": "telegram", "token": fake.token, "telegram_chat_id": STAFF_CHAT_ID,
                 "telegram_base_url": fake.base_url, "personal_data": "masked",
                 "staff": [{"name": "anna", "telegram_user_id": APPROVER_ID,
                            "role": "approver"}]},
    }
    for section, value in overrides.items():
        values[section] = {**values.get(section, {}), **value}
    return Settings(**values)


def add_customer(db: Database) -> int:
    """Maija, with a phone, a web page and one open invoice."""
    with db.session() as s:
        c = factories.add_customer(
            s, "104233", last_name="Virtanen", email="Maija.Virtanen@example.fi",
            postal_address="Hämeenkatu 12 B 7, 33100 Tampere", phone="+358401234567",
            www="www.maijavirtanen.fi", relationship_start=date(2019, 5, 1))
        assert c.id is not None
        s.add(Invoice(invoice_number=INVOICE, customer_id=c.id, issued_at=date(2026, 11, 2),
                      due_date=date(2026, 11, 16), amount_cents=12990, status="open"))
        return c.id


def signed_request(subject: str, text: str, *, message_id: str) -> bytes:
    """A request from the registered address, clearsigned with Maija's trusted key."""
    return mail(from_=UID, subject=subject, body=clearsign(pgp_key(UID), text),
                message_id=message_id)


@pytest.fixture
async def peers() -> AsyncIterator[tuple[SmtpSink, FakeTelegram]]:
    sink = SmtpSink()
    await sink.start()
    fake = FakeTelegram()
    await fake.start()
    try:
        yield sink, fake
    finally:
        await fake.stop()
        await sink.stop()


def make_service(
    tmp_path: Path, db_url: str, sink: SmtpSink, fake: FakeTelegram,
    imap: DovecotServer | None, **overrides: Any,
) -> Service:
    """What ``run_service`` does before it waits: migrate, default parties, build components."""
    _, keys = write_trust_files(tmp_path, pgp=[pgp_key(UID)])
    settings = service_settings(db_url, sink=sink, fake=fake, imap=imap, trust_keys=keys,
                                **overrides)
    migrate.upgrade(db_url)
    db = Database(db_url)
    with db.session() as s:
        ensure_default_parties(s)
    customer_id = add_customer(db)
    return Service(settings, db, build_components(settings, db), sink, fake, imap, customer_id)


@pytest.fixture
async def service(
    tmp_path: Path, db_url: str, peers: tuple[SmtpSink, FakeTelegram],
    dovecot: DovecotServer,  # noqa: F811
) -> AsyncIterator[Service]:
    """The service not yet started (the test appends its mail first, then starts it)."""
    sink, fake = peers
    svc = make_service(tmp_path, db_url, sink, fake, dovecot)
    try:
        yield svc
    finally:
        await svc.stop()
        svc.db.dispose()


async def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for the background loops to make ``check`` true (no timing assertions)."""
    try:
        async with asyncio.timeout(timeout):
            while not await asyncio.to_thread(check):
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


def case_message(fake: FakeTelegram, case_id: str) -> tuple[int, dict[str, Any] | None]:
    """(message_id, keyboard) of the staff chat message that shows ``case_id``."""
    for (chat_id, message_id), msg in fake.messages.items():
        if chat_id == STAFF_CHAT_ID and case_id in msg.text.split("\n", 1)[0]:
            return message_id, msg.reply_markup
    raise AssertionError(f"no chat message shows {case_id}")


def shown(fake: FakeTelegram, case_id: str) -> bool:
    return any(chat_id == STAFF_CHAT_ID and case_id in m.text.split("\n", 1)[0]
               for (chat_id, _), m in fake.messages.items())


async def approve_in_chat(svc: Service, case_id: str) -> None:
    """The approver taps Approve under the case's message, as Telegram would deliver it."""
    await eventually(lambda: shown(svc.fake, case_id), f"{case_id} shown in the staff chat")
    message_id, keyboard = case_message(svc.fake, case_id)
    assert keyboard is not None
    buttons = [b["callback_data"] for row in keyboard["inline_keyboard"] for b in row]
    assert f"approve:{case_id}" in buttons
    svc.fake.push_callback(APPROVER_ID, STAFF_CHAT_ID, message_id, f"approve:{case_id}")


def body(message: EmailMessage) -> str:
    """Every text part of a letter (plain and HTML), decoded."""
    return "\n".join(str(part.get_content()) for part in message.walk()
                     if part.get_content_maintype() == "text")


def mailbox_uids(server: DovecotServer, folder: str) -> list[int]:
    client = server.client()
    try:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        return list(client.search(["ALL"]))
    finally:
        client.logout()


async def test_signed_access_request_by_imap_is_approved_in_telegram_and_answered_by_smtp(
    service: Service,
) -> None:
    svc = service
    imap = svc.imap
    assert imap is not None
    imap.append(signed_request(
        "Tarkastuspyyntö", "Hei,\n\nhaluan tarkastaa mitä tietoja minusta on rekisterissänne."
        "\n\nMaija Virtanen\n", message_id="<e2e-access@example.fi>"))
    await svc.start()

    # One case, verified by the signature alone, waiting for staff; its receipt at the relay.
    await eventually(lambda: len(svc.cases()) == 1, "a case is opened")
    [case] = svc.cases()
    assert case.types == ["access"]
    assert case.verification_level == "verified" and case.signature_state == "valid"
    assert case.customer_id == svc.customer_id
    await eventually(lambda: len(svc.sink.captured) >= 1, "the receipt reaches the relay")
    receipt = svc.sink.captured[0]
    assert [r.lower() for r in receipt.rcpt_tos] == [REGISTERED]
    assert case.id in str(receipt.message["Subject"])
    assert INVOICE not in body(receipt.message)  # a receipt carries nothing personal
    await eventually(lambda: svc.cases()[0].status == "awaiting_approval",
                     "the case waits for staff")
    assert len(svc.sink.captured) == 1  # no personal data leaves before a person approves

    # The case appears in the staff chat with its buttons; the approver taps Approve.
    await approve_in_chat(svc, case.id)
    answers = await svc.fake.wait_for("answerCallbackQuery")
    assert "approved by anna" in answers[0]["text"]

    # The access report goes to the registered address, with the register's data in it.
    await eventually(lambda: svc.cases()[0].status == "done", "the case is carried out")
    await eventually(lambda: len(svc.sink.captured) >= 2, "the report reaches the relay")
    report = svc.sink.captured[-1]
    assert [r.lower() for r in report.rcpt_tos] == [REGISTERED]
    assert INVOICE in body(report.message)
    assert case.id in str(report.message["Subject"])
    assert len(svc.sink.captured) == 2  # one receipt, one report: nothing twice

    # The request left INBOX for the processed folder; the audit chain holds.
    await eventually(lambda: mailbox_uids(imap, "INBOX") == [],
                     "the request leaves INBOX")
    # Dovecot's maildir hierarchy separator is ".": the watcher translates the "/".
    assert len(mailbox_uids(imap, PROCESSED_FOLDER.replace("/", "."))) == 1
    assert [row.state for row in svc.inbound()] == ["processed"]
    assert svc.audit_ok()
    with svc.db.read_session() as s:
        actions = [e.action for e in s.exec(select(AuditEntry))]
        approvers = [e.actor for e in s.exec(select(AuditEntry))
                     if e.action == "case.status" and e.details.get("to") == "approved"]
    assert approvers == ["staff:anna"]
    assert any(a.startswith("rights.access") for a in actions), actions
    # The chat message now shows the decision instead of the buttons.
    _, keyboard = case_message(svc.fake, case.id)
    assert "approve:" not in json.dumps(keyboard)
