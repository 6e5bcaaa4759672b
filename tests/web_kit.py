"""What the desk tests share: a settings file, staff with passwords, a case from real mail bytes,
and a logged-in HTTP client (starlette's TestClient over the real ASGI app)."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from bot.cli import app as cli_app
from bot.settings import Settings, load_settings
from bot.web.app import build_app
from handlers import cases as engine
from storage import inbox
from storage.db import Database
from tests import factories

PASSWORD = "correct horse battery staple"
REGISTERED = "maija.virtanen@example.fi"


def write_settings(folder: Path, db: Database, extra: str = "") -> tuple[Path, Settings]:
    cfg = folder / "desk.toml"
    cfg.write_text(
        f'[database]\nurl = "{db.url}"\n\n[web]\nport = 0\n\n'
        '[[chat.staff]]\nname = "cfgviewer"\nrole = "viewer"\n' + extra, encoding="utf-8")
    return cfg, load_settings(cfg)


def staffed_desk(folder: Path, db: Database, **roles: str) -> tuple[Path, Settings]:
    """A settings file and one login per ``name=role``, in the order given."""
    cfg, settings = write_settings(folder, db)
    for name, role in roles.items():
        add_staff(cfg, name, role)
    return cfg, settings


def dsrbot(cfg: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli_app, ["--config", str(cfg), *args], input=stdin,
                              catch_exceptions=False)


def add_staff(cfg: Path, name: str, role: str, password: str = PASSWORD) -> None:
    result = dsrbot(cfg, "staff", "add", name, "--role", role)
    assert result.exit_code == 0, result.output
    set_password(cfg, name, password)


def set_password(cfg: Path, name: str, password: str = PASSWORD) -> None:
    result = dsrbot(cfg, "staff", "passwd", name, stdin=password + "\n")
    assert result.exit_code == 0, result.output


def png(width: int = 40, height: int = 20) -> bytes:
    """A real, small PNG (a grey image) made without any imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def request_mail(body: str = "Hei, haluan tarkastaa tietoni. Allekirjoitettu kirje liitteenä.",
                 *, attachments: list[tuple[bytes, str, str, str]] | None = None,
                 html: str | None = None, subject: str = "Tietopyyntö",
                 sender: str = f"Maija Virtanen <{REGISTERED}>") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "info@rusttet.fi"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.fi")
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for data, maintype, subtype, filename in attachments or [
            (png(), "image", "png", "allekirjoitus.png")]:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def add_customer(db: Database, number: str = "104233") -> int:
    return factories.stored_customer(
        db, number, last_name="Virtanen", email=REGISTERED, phone="+358401234567",
        postal_address="Hämeenkatu 12 B 7, 33100 Tampere", relationship_start=date(2019, 5, 1))


def make_case(db: Database, raw: bytes | None = None, *, customer_id: int | None = None,
              verified: bool = True, signature: str = "staff_to_check",
              types: tuple[str, ...] = ("access",), received_at: datetime | None = None,
              requester: str = REGISTERED, names: list[int] | None = None) -> str:
    """A case opened from stored mail bytes, as the pipeline leaves it before staff decide
    (``names``: the register customers the mail names, as intake records them)."""
    raw = raw if raw is not None else request_mail()
    when = received_at or datetime.now(UTC)
    with db.session() as s:
        row, _ = inbox.store_inbound(s, raw, channel="smtp", envelope_from=requester,
                                     envelope_to=["info@rusttet.fi"], received_at=when)
        case = engine.open_case(s, types=list(types), requester=requester, language="fi",
                                received_at=when, inbound_message_id=row.id,
                                thread_ids=[f"<{row.id}@example.fi>"])
        if names is not None:
            case.details = {**case.details, "identity": {"candidate_ids": names}}
        engine.record_identity(s, case, verification_level="verified" if verified else "claimed",
                               signature_state=signature,
                               customer_id=customer_id if verified else None,
                               reasons=["signature: staff to check"], now=when)
        engine.advance(s, case, auto_approve=())
        return case.id


def client(settings: Settings, db: Database, *, cookies: dict[str, str] | None = None,
           **kwargs: Any) -> TestClient:
    return TestClient(build_app(settings, db, **kwargs), base_url="http://127.0.0.1",
                      follow_redirects=False, cookies=cookies)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


def login(c: TestClient, name: str, password: str = PASSWORD, otp: str = "") -> str:
    """Log in through the real form; returns the session's CSRF token (from the queue page)."""
    form = c.get("/login")
    response = c.post("/login", data={"username": name, "password": password, "otp": otp,
                                      "csrf_token": csrf_of(form.text)})
    assert response.status_code == 303, response.text
    return csrf_of(c.get("/cases").text)
