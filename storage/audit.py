"""Append-only, hash-chained audit log.

Each entry stores the previous entry's hash and its own, computed over a canonical JSON form of
its content, so editing, deleting or reordering any row breaks the chain at that row.
``details`` must hold ids, counts and reasons only: never names, addresses or erased values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from storage.models import AuditEntry

GENESIS = "0" * 64
BOT_ACTOR = "dsrbot"
#: The periodic jobs, when they decide on a case themselves (an identity code expired).
SCHEDULER_ACTOR = "dsrbot:scheduler"
_PG_AUDIT_LOCK = 0x64737262  # "dsrb": serialises appends to the chain across processes


def staff_actor(name: str) -> str:
    return f"staff:{name}"


def _canonical(entry: AuditEntry) -> bytes:
    payload = {
        "id": entry.id,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "case_id": entry.case_id,
        "customer_number": entry.customer_number,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    case_id: str | None = None,
    customer_number: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (so it commits with the change)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1)).first()
    entry = AuditEntry(
        id=(last.id or 0) + 1 if last else 1,
        at=at or datetime.now(UTC),
        actor=actor,
        action=action,
        case_id=case_id,
        customer_number=customer_number,
        details=details or {},
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_entry_id: int | None = None
    problem: str | None = None


def iter_entries(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEntry).where(col(AuditEntry.id) > last_id)
            .order_by(col(AuditEntry.id)).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id or last_id


def verify(session: Session) -> VerifyResult:
    """Walk the chain in id order; report the first entry that does not match."""
    prev = GENESIS
    expected_id = 1
    checked = 0
    for entry in iter_entries(session):
        if entry.id != expected_id:
            return VerifyResult(False, checked, entry.id,
                                f"entry {expected_id} is missing (next is {entry.id})")
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, entry.id,
                                "previous-hash link does not match the entry before it")
        if entry_hash(entry) != entry.hash:
            return VerifyResult(False, checked, entry.id,
                                "content does not match its hash (the entry was altered)")
        prev = entry.hash
        expected_id += 1
        checked += 1
    return VerifyResult(True, checked)
