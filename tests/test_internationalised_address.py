"""A request from an internationalised address (RFC 6531) is an ordinary case (issue 14, 6).

The register holds no such address, so the case takes the clear "not in the register" path,
never an exception quarantine. End to end: smtplib with SMTPUTF8 to our receiver, then the
pipeline in the real ``dsrbot run``.
"""

from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage

import pytest
from sqlmodel import select

from storage.db import Database
from storage.models import Case, InboundMessage
from tests.run_kit import (
    dsrbot,
    free_port,
    start_service,
    stop_service,
    wait_for,
    wait_listening,
    write_config,
)

SENDERS = ["mäijä@esimerkki.fi", "用户@例子.广告"]


def _request(sender: str, n: int) -> bytes:
    msg = EmailMessage(policy=policy.SMTPUTF8)
    msg["From"] = sender
    msg["To"] = "info@rusttet.fi"
    msg["Subject"] = "Tietojen poisto"
    msg["Message-ID"] = f"<idn-{n}@example.fi>"
    msg.set_content("Hei, poistakaa kaikki tietoni rekisteristänne. Kiitos, Mäijä")
    return msg.as_bytes(policy=policy.SMTPUTF8)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[InboundMessage], list[Case]]:
    tmp = tmp_path_factory.mktemp("idn")
    port = free_port()
    url = f"sqlite:///{tmp / 'd.db'}"
    config = write_config(tmp, port=port, database_url=url)
    dsrbot(config, "init")
    db = Database(url)
    proc = start_service(config, tmp / "run.log")
    try:
        wait_listening(port, proc, tmp / "run.log")
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for n, sender in enumerate(SENDERS):
                smtp.sendmail(sender, ["info@rusttet.fi"], _request(sender, n),
                              mail_options=["SMTPUTF8"])

        def done() -> list[InboundMessage] | None:
            with db.read_session() as s:
                rows = list(s.exec(select(InboundMessage).order_by(InboundMessage.id)).all())
            return rows if len(rows) == len(SENDERS) and all(
                r.state != "received" for r in rows) else None

        rows = wait_for(done, timeout=120, message="both requests processed")
    finally:
        assert stop_service(proc) == 0
    with db.read_session() as s:
        cases = list(s.exec(select(Case).order_by(Case.id)).all())
    db.dispose()
    return rows, cases


def test_internationalised_sender_gets_not_in_register_path(
        outcome: tuple[list[InboundMessage], list[Case]]) -> None:
    rows, cases = outcome
    for row in rows:
        assert row.state == "processed", row.reasons
        assert not any("internal error" in r for r in row.reasons), row.reasons
        assert "From address is not in the register" in row.reasons
    assert sorted(c.requester for c in cases) == sorted(SENDERS)
    assert all(c.customer_id is None for c in cases)
