"""The README's newcomer flow, command by command, so the README stays true.

mail a request in -> receipt + confirmation code to the registered address -> reply with the
code -> staff approve on the console -> the answer lands in the local outbox maildir.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.run_kit import (
    CUSTOMERS_CSV,
    confirmation_code,
    dsrbot,
    free_port,
    mail_with_subject,
    plain_text,
    send_mail,
    start_service,
    stop_service,
    wait_for,
    wait_listening,
)


def _case(config: Path, case_id: str) -> dict[str, object]:
    return dict(json.loads(dsrbot(config, "case", case_id, "--json").stdout))


def test_readme_flow_answers_an_erasure_request_on_the_embedded_defaults(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"[mail.receiver]\nport = {port}\n\n"
        '[[chat.staff]]\nname = "aino"\nrole = "approver"\n', encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    maildir = tmp_path / "var" / "outbox"

    assert "database ready" in dsrbot(config, "init").stdout
    imported = dsrbot(config, "import", "customers", str(tmp_path / "customers.csv"))
    assert "1 created" in imported.stdout
    log = tmp_path / "run.log"
    proc = start_service(config, log)
    try:
        wait_listening(port, proc, log)
        send_mail(port, sender="maija@example.fi", subject="Erase my data",
                  body="Hello, please erase my personal data from your customer register. "
                       "Maija Meikäläinen")
        challenge = wait_for(lambda: mail_with_subject(maildir, r"Please confirm"),
                             message="the confirmation code mail")
        assert challenge["To"] == "maija@example.fi"
        assert mail_with_subject(maildir, r"We have received your request") is not None
        cases = json.loads(dsrbot(config, "cases", "--all", "--json").stdout)
        assert [c["status"] for c in cases] == ["awaiting_identity"]
        case_id = cases[0]["id"]

        send_mail(port, sender="maija@example.fi",
                  subject=f"Re: {challenge['Subject']}", body=confirmation_code(challenge),
                  in_reply_to=str(challenge["Message-ID"]))
        wait_for(lambda: _case(config, case_id)["status"] == "awaiting_approval",
                 message="the code to verify the requester")

        approved = dsrbot(config, "approve", case_id, "--as", "aino")
        assert f"{case_id} approved by aino" in approved.stdout
        reply = wait_for(lambda: mail_with_subject(maildir, r"Your data has been erased"),
                         message="the erasure letter")
        assert reply["To"] == "maija@example.fi"
        assert "Email address" in plain_text(reply)
        assert _case(config, case_id)["status"] == "done"
        assert "audit chain intact" in dsrbot(config, "audit", "verify").stdout
        status = json.loads(dsrbot(config, "status", "--json").stdout)
        assert status["service"]["running"] is True
        assert status["open_cases"] == {}
    finally:
        assert stop_service(proc) == 0
