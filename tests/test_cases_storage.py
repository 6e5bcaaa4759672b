"""Cases: readable ids, checked status transitions, every change audited."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from handlers.case_status import TransitionError
from storage.cases import allocate_case_id, create_case, transition
from storage.db import Database
from storage.models import AuditEntry, CaseStatus
from tests.helpers import run_cli


def _case(db: Database, when: datetime | None = None) -> str:
    with db.session() as s:
        case = create_case(s, types=["access"], requester="a@example.fi", language="fi",
                           received_at=when or datetime(2026, 3, 2, 9, tzinfo=UTC),
                           due_date=date(2026, 4, 2))
        return case.id


def test_case_ids_count_per_year(db: Database) -> None:
    assert _case(db) == "DSR-2026-0001"
    assert _case(db) == "DSR-2026-0002"
    assert _case(db, datetime(2027, 1, 4, tzinfo=UTC)) == "DSR-2027-0001"


def test_case_id_counter_is_shared_between_sessions(db: Database) -> None:
    ids = set()
    for _ in range(20):
        with db.session() as s:
            ids.add(allocate_case_id(s, 2030))
    assert len(ids) == 20


def test_closed_case_cannot_be_reopened(db: Database) -> None:
    cid = _case(db)
    with db.session() as s:
        from storage.models import Case
        case = s.get(Case, cid)
        assert case is not None
        transition(s, case, CaseStatus.REFUSED, actor="staff:anna", reasons=["not verified"])
    with db.session() as s, pytest.raises(TransitionError, match="case is closed"):
        case = s.get(Case, cid)
        assert case is not None
        transition(s, case, CaseStatus.APPROVED, actor="staff:anna", reasons=[])


def test_every_transition_is_audited_with_actor_and_reasons(db: Database) -> None:
    cid = _case(db)
    from storage.models import Case
    with db.session() as s:
        case = s.get(Case, cid)
        assert case is not None
        transition(s, case, CaseStatus.AWAITING_APPROVAL, actor="dsrbot", reasons=["verified"])
        transition(s, case, CaseStatus.APPROVED, actor="staff:anna", reasons=["ok"])
    with db.read_session() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.case_id == cid)
                         .order_by(AuditEntry.id)).all()
    assert [(e.actor, e.action) for e in entries] == [
        ("dsrbot", "case.created"), ("dsrbot", "case.status"), ("staff:anna", "case.status")]
    assert entries[2].details == {"from": "awaiting_approval", "to": "approved",
                                  "reasons": ["ok"]}


def test_cases_json_lists_the_contract_fields(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "sqlite:///d.db"\n', encoding="utf-8")
    run_cli("--config", str(cfg), "init")
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    _case(db)
    db.dispose()
    out = json.loads(run_cli("--config", str(cfg), "cases", "--all", "--json").stdout)
    assert out == [{
        "id": "DSR-2026-0001", "types": ["access"], "status": "received",
        "received_at": "2026-03-02T09:00:00+00:00", "due_date": "2026-04-02",
        "customer_number": None, "requester": "a@example.fi", "language": "fi",
        "claimed_earlier": None, "on_behalf_of": None}]
    table = run_cli("--config", str(cfg), "cases").stdout
    assert "DSR-2026-0001" in table and "access" in table


FIRST_WRITE = """
import sys
from datetime import UTC, date, datetime
from storage import migrate
from storage.cases import create_case
from storage.db import Database
url = "sqlite:///" + sys.argv[1]
migrate.upgrade(url)
db = Database(url)
with db.session() as s:
    case = create_case(s, types=["access"], requester="a@example.fi", language="fi",
                       received_at=datetime(2026, 3, 2, 9, tzinfo=UTC), due_date=date(2026, 4, 2))
print(case.id)
"""


def test_a_fresh_process_can_open_a_case_as_its_first_write(tmp_path: Path) -> None:
    """Rows are built without the constructor (storage.rows); in a new process nothing has
    configured the ORM's mappers yet, and the first case must still be written."""
    done = subprocess.run([sys.executable, "-c", FIRST_WRITE, str(tmp_path / "x.db")],
                          text=True, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith("DSR-2026-")
