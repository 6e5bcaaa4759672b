"""Signatures that have verified a case: one signature verifies one case only.

Why: a trusted signature proves who signed *something*; kept here, the same signed mail or file
sent again (a replay) can never verify a second request. Works in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.models import UsedSignature


def used_by(session: Session, sha256: str) -> str | None:
    """The case the signature already verified, or None."""
    row = session.get(UsedSignature, sha256)
    return row.case_id if row is not None else None


def record(session: Session, sha256: str, case_id: str, now: datetime) -> None:
    """Remember that ``sha256`` verified ``case_id`` (the primary key refuses a second case)."""
    session.add(UsedSignature(sha256=sha256, case_id=case_id, used_at=now))
    session.flush()
