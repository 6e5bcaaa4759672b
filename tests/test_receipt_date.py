"""Setting a case's receipt date back (an earlier request was found) moves every deadline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers import cases as engine
from storage.db import Database
from tests.helpers import run_cli
from tests.test_case_engine import _config, _get, _verified


def test_receipt_date_set_back_recomputes_due_date(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)  # received 2 March 2026, due 2 April 2026
    cfg = _config(tmp_path, db)
    result = run_cli("--config", cfg, "case", cid, "--received", "2026-02-10",
                     "--reason", "first request of 10 Feb found in the mailbox", "--as", "anna")
    assert result.exit_code == 0, result.stderr
    assert "due 2026-03-10" in result.stdout
    record = json.loads(run_cli("--config", cfg, "case", cid, "--json").stdout)
    assert record["received_on"] == "2026-02-10" and record["due_date"] == "2026-03-10"
    assert any("receipt date set back to 2026-02-10: first request of 10 Feb found" in r
               for r in record["reasons"])
    [changed] = [e for e in record["audit"] if e["action"] == "case.received_date_changed"]
    assert changed["actor"] == "staff:anna"
    assert changed["details"]["from"]["due_date"] == "2026-04-02"
    # the extension is possible only within the first month counted from the new date
    with db.session() as s, pytest.raises(engine.CaseError, match="first month ended"):
        engine.extend(s, _get(s, cid), reason="numerous requests", actor="staff:anna",
                      now=datetime(2026, 3, 15, 9, tzinfo=UTC))


def test_receipt_date_set_back_needs_a_reason_and_a_staff_member(
        db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    cfg = _config(tmp_path, db)
    result = run_cli("--config", cfg, "case", cid, "--received", "2026-02-10", "--as", "anna")
    assert result.exit_code == 1 and "--reason" in result.stderr
    later = run_cli("--config", cfg, "case", cid, "--received", "2026-03-20", "--reason", "x",
                    "--as", "anna")
    assert later.exit_code == 1 and "can only be set back" in later.stderr
    viewer = run_cli("--config", cfg, "case", cid, "--received", "2026-02-10", "--reason", "x",
                     "--as", "ville")
    assert viewer.exit_code == 1
    record = json.loads(run_cli("--config", cfg, "case", cid, "--json").stdout)
    assert record["due_date"] == "2026-04-02"
