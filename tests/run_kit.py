"""A real ``dsrbot run`` in a subprocess, and the small things tests do with it.

Used by the service, README-flow and scale-out tests: each starts the real command, talks to
its SMTP receiver with smtplib and reads what it wrote to the maildir outbox.
"""

from __future__ import annotations

import email
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

from typer.testing import CliRunner, Result

from bot.cli import app

T = TypeVar("T")

CUSTOMERS_CSV = (
    "customer_number,first_name,last_name,organisation,position,email,postal_address,phone,"
    "www,ip_address,relationship_start,relationship_end,is_org_contact,marketing_ban,"
    "publication_ban\n"
    "C-1001,Maija,Meikäläinen,,,maija@example.fi,\"Hämeenkatu 12 B 7, 33100 Tampere\","
    "040 123 4567,,,2021-03-01,,0,0,0\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, *, port: int, database_url: str | None = None,
                 extra: str = "") -> Path:
    """A config for a test service: its own receiver port, maildir out, no scheduler."""
    folder.mkdir(parents=True, exist_ok=True)
    db = f'[database]\nurl = "{database_url}"\n\n' if database_url else ""
    text = (
        f"{db}[mail.receiver]\nport = {port}\n\n"
        "[scheduler]\nenabled = false\n\n"
        '[[chat.staff]]\nname = "aino"\nrole = "approver"\n' + extra
    )
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def dsrbot(config: Path, *args: str, check: bool = True) -> Result:
    """Run one ``dsrbot`` command in this process (the real Typer app, the real database)."""
    result = CliRunner().invoke(app, ["--config", str(config), *args], catch_exceptions=False)
    if check:
        assert result.exit_code == 0, f"dsrbot {' '.join(args)}: {result.output}"
    return result


def start_service(config: Path, log: Path, env: dict[str, str] | None = None
                  ) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "--config", str(config), "run"],
            cwd=config.parent, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def wait_for(what: Callable[[], T | None], *, timeout: float = 60.0, message: str = "") -> T:
    """Poll until ``what`` returns something truthy (a readiness wait, not a timed assertion)."""
    end = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting: {message}")
        time.sleep(0.1)


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"dsrbot run exited {proc.returncode}: {log.read_text()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0
    wait_for(ready, message=f"receiver on port {port}")


def stop_service(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def send_mail(port: int, *, sender: str, subject: str, body: str,
              in_reply_to: str | None = None, message_id: str | None = None) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "info@rusttet.fi", subject
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(msg)


def outbox_mails(maildir: Path) -> list[EmailMessage]:
    new = maildir / "new"
    if not new.is_dir():
        return []
    mails = []
    for path in sorted(new.iterdir()):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        mails.append(msg)
    return mails


def mail_with_subject(maildir: Path, pattern: str) -> EmailMessage | None:
    for msg in outbox_mails(maildir):
        if re.search(pattern, str(msg["Subject"])):
            return msg
    return None


def plain_text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def confirmation_code(msg: EmailMessage) -> str:
    match = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b", plain_text(msg))
    assert match, "no confirmation code in the challenge"
    return match.group(1)
