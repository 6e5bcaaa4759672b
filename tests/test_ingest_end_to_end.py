"""`dsrbot ingest FILE.eml` runs a verified request all the way to the outbox (no chat needed).

A request signed with the customer's trusted OpenPGP key, from the registered address, is
verified by the mail alone; with its type in approval.auto_approve the operator sees the whole
result (register changed, confirmation in the outbox, case done) from one command.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlmodel import select

from storage.db import Database
from storage.models import Customer, OutboundMessage
from tests import factories
from tests.helpers import run_cli
from tests.identity_kit import clearsign, mail, pgp_key, write_trust_files


def test_signed_opt_out_ingested_from_a_file_is_carried_out_to_the_outbox(
    tmp_path: Path
) -> None:
    key = pgp_key("Maija Virtanen <maija.virtanen@example.fi>")
    _, keys = write_trust_files(tmp_path, pgp=[key])
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[database]\nurl = "sqlite:///d.db"\n'
        f'[identity]\ntrusted_openpgp_keys = ["{keys[0]}"]\n', encoding="utf-8")
    assert run_cli("--config", str(cfg), "init").exit_code == 0
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    factories.stored_customer(db, "104233", last_name="Virtanen",
                              email="maija.virtanen@example.fi",
                              relationship_start=date(2020, 1, 1))
    body = clearsign(key, "Hei,\n\nen halua enää suoramainontaa enkä puhelinmyyntiä.\n\n"
                          "Maija Virtanen\n")
    eml = tmp_path / "request.eml"
    eml.write_bytes(mail(from_="Maija Virtanen <maija.virtanen@example.fi>", body=body,
                         subject="Suoramarkkinointikielto"))

    result = run_cli("--config", str(cfg), "ingest", str(eml))
    assert result.exit_code == 0, result.stderr

    cases = json.loads(run_cli("--config", str(cfg), "cases", "--all", "--json").stdout)
    assert [(c["types"], c["status"], c["customer_number"]) for c in cases] == [
        (["marketing_optout"], "done", "104233")]
    with db.read_session() as s:
        assert s.exec(select(Customer)).one().marketing_ban is True
        sent = {(r.kind, r.recipient) for r in s.exec(select(OutboundMessage))}
    assert sent == {("receipt", "maija.virtanen@example.fi"),
                    ("marketing_optout", "maija.virtanen@example.fi")}
    db.dispose()
