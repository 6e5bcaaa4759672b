"""What tests read back to see what happened: audit entries of one action, a case row.

One copy for every test file, so a change to how the trail is ordered or a case is loaded is
made once (these were written three times before)."""

from __future__ import annotations

from sqlmodel import col, select

from storage.db import Database
from storage.models import AuditEntry, Case


def audit_actions(db: Database, action: str) -> list[AuditEntry]:
    """Every audit entry of ``action``, oldest first."""
    with db.read_session() as s:
        return list(s.exec(select(AuditEntry).where(col(AuditEntry.action) == action)
                           .order_by(col(AuditEntry.id))).all())


def case_row(db: Database, case_id: str) -> Case:
    with db.read_session() as s:
        found = s.get(Case, case_id)
        assert found is not None
        return found
