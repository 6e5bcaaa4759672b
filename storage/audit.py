"""Append-only, hash-chained audit log, optionally keyed, anchored by checkpoints.

Each entry stores the previous entry's hash and its own, computed over a canonical JSON form of
its content. What that detects on its own: editing, deleting or reordering a row *inside* the
chain without recomputing the hashes after it. What it does NOT detect on its own, because
anyone with write access to the database can recompute SHA-256: deleting the last entries (or
all of them), editing an entry and rehashing everything after it, or appending a forged entry.
Those are found only

* against a **checkpoint** (``COUNT HASH`` of the head, kept outside the database: the staff
  digest, ``var/audit-checkpoints.log``, a mail): a chain shorter than a checkpoint, or whose
  entry at that count has another hash, was rewritten; or
* with the **key** (``audit.key``): each hash is then an HMAC-SHA256, stored as
  ``hmac:<base64url>`` so the mode shows without the key, and recomputing the chain needs it.
  Entries written before a key was configured stay plain; once keyed, every later entry must
  be keyed, so a rewrite without the key cannot pass as plain entries.

The key reaches :func:`record` through ``session.info[KEY_INFO]`` (set by
:class:`storage.db.Database`), so every writer in a keyed process keys its entries, and a
process without the key refuses to append plain entries after keyed ones.
``details`` must hold ids, counts and reasons only: never names, addresses or erased values.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, func, select

from storage import audit_chain, rows, txmemo
from storage.models import AuditEntry

GENESIS = audit_chain.GENESIS
BOT_ACTOR = "dsrbot"
#: The periodic jobs, when they decide on a case themselves (an identity code expired).
SCHEDULER_ACTOR = "dsrbot:scheduler"
KEYED_PREFIX = audit_chain.KEYED_PREFIX
is_keyed = audit_chain.is_keyed
#: ``session.info`` keys: the audit key (bytes) and extra attribution merged into ``details``.
KEY_INFO = "dsrbot_audit_key"
CONTEXT_INFO = "dsrbot_audit_context"
_HASH = re.compile(r"[0-9a-f]{64}|hmac:[A-Za-z0-9_-]{43}")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_PG_AUDIT_LOCK = 0x64737262  # "dsrb": serialises appends to the chain across processes


class AuditKeyError(RuntimeError):
    """The chain is keyed but this process has no key (or the reverse): nothing is written."""


def staff_actor(name: str) -> str:
    return f"staff:{name}"


def attribute_session(session: Session, **context: str) -> None:
    """Record ``context`` (e.g. ``os_user``) in ``details`` of every entry this session writes:
    who really ran a console command, beside the name they gave."""
    session.info.setdefault(CONTEXT_INFO, {}).update(context)


def _canonical(entry: AuditEntry) -> bytes:
    return audit_chain.canonical(
        id=entry.id, at=entry.at, actor=entry.actor, action=entry.action,
        case_id=entry.case_id, customer_number=entry.customer_number, details=entry.details,
        prev_hash=entry.prev_hash)


def entry_hash(entry: AuditEntry, key: bytes | None = None) -> str:
    """SHA-256 hex without a key; ``hmac:`` + base64url HMAC-SHA256 with one (48 chars)."""
    return audit_chain.hash_of(_canonical(entry), key)


def _chain_head(session: Session) -> tuple[int, str] | None:
    """The last entry's ``(id, hash)``: read (under the chain's lock) once per transaction.

    A batch of mail appends a dozen entries per message in one transaction; reading the head
    back from the table before each one was a query plus a flush of everything pending. The
    head is kept in the transaction's memo (:mod:`storage.txmemo`): any rollback, also of one
    message's savepoint, forgets it, so it is read again from what survived; the transaction's
    end forgets it, so the next one reads it again under its own lock.
    """
    known = txmemo.memo(session, "audit")
    if "head" in known:
        return known["head"]
    if session.get_bind().dialect.name == "postgresql":
        # Held until the transaction ends: no other process appends while the head is cached.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(col(AuditEntry.id), col(AuditEntry.hash)).order_by(col(AuditEntry.id).desc())
        .limit(1)
    ).first()
    known["head"] = (int(last[0]), str(last[1])) if last is not None else None
    return known["head"]


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
    """Append one entry inside the caller's transaction (so it commits with the change).

    The entry is added to the session, not flushed: it is written with the session's next
    flush (a query, the savepoint's release, the commit), in the same transaction.
    """
    key: bytes | None = session.info.get(KEY_INFO)
    last = _chain_head(session)
    if key is None and last is not None and is_keyed(last[1]):
        raise AuditKeyError("the audit log is keyed: set DSRBOT_AUDIT__KEY or audit.key_file "
                            "to write to it; nothing was changed")
    extra = session.info.get(CONTEXT_INFO) or {}
    entry = rows.build(AuditEntry, {  # ~2 entries per mail in a batch: the cheap constructor
        "id": last[0] + 1 if last else 1,
        "at": at or datetime.now(UTC),
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "customer_number": customer_number,
        "details": {**(details or {}), **extra},
        "prev_hash": last[1] if last else GENESIS,
        "hash": "",
    })
    entry.hash = entry_hash(entry, key)
    session.add(entry)
    txmemo.memo(session, "audit")["head"] = (entry.id, entry.hash)
    return entry


@dataclass(frozen=True)
class Checkpoint:
    """The head of the chain: how many entries, and the last one's hash (``COUNT HASH``)."""

    count: int
    hash: str

    def __str__(self) -> str:
        return f"{self.count} {self.hash}"

    @classmethod
    def parse(cls, raw: str) -> Checkpoint:
        """``COUNT HASH`` (a log line may carry a date first: ``DATE COUNT HASH``)."""
        parts = raw.split()
        if len(parts) == 3 and _ISO_DAY.fullmatch(parts[0]):
            parts = parts[1:]
        if len(parts) != 2 or not parts[0].isdigit() or not _HASH.fullmatch(parts[1]):
            raise ValueError(f"not a checkpoint (COUNT HASH): {raw.strip()[:80]!r}")
        return cls(int(parts[0]), parts[1])


def head(session: Session) -> Checkpoint:
    count = session.exec(select(func.count()).select_from(AuditEntry)).one()
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1)).first()
    return Checkpoint(int(count), last.hash if last else GENESIS)


CHECKPOINT_ACTION = "audit.checkpoint"


def last_recorded_checkpoint(session: Session) -> Checkpoint | None:
    """The checkpoint the service last recorded (its own ``audit.checkpoint`` entry)."""
    entry = session.exec(
        select(AuditEntry).where(col(AuditEntry.action) == CHECKPOINT_ACTION)
        .order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    if entry is None:
        return None
    return Checkpoint(int(entry.details.get("count", 0)), str(entry.details.get("hash", "")))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_entry_id: int | None = None
    problem: str | None = None
    #: "keyed" (HMAC checked with the key) or "plain" (SHA-256 only).
    mode: str = "plain"
    checkpoints: int = 0


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


def _entry_problem(entry: AuditEntry, key: bytes | None, seen_keyed: bool) -> str | None:
    if is_keyed(entry.hash):
        if key is None:
            return ("written with the audit key, but no key was given "
                    "(set DSRBOT_AUDIT__KEY or audit.key_file)")
        if not hmac.compare_digest(entry_hash(entry, key), entry.hash):
            return "content does not match its keyed hash (altered, or another key)"
        return None
    if seen_keyed:
        return "not keyed although the entries before it are (rewritten without the key)"
    if entry_hash(entry) != entry.hash:
        return "content does not match its hash (the entry was altered)"
    return None


def verify(
    session: Session, *, key: bytes | None = None, checkpoints: Sequence[Checkpoint] = ()
) -> VerifyResult:
    """Walk the chain in id order; report the first entry that does not match, then any
    checkpoint the chain does not reach or disagrees with."""
    mode = "keyed" if key is not None else "plain"
    anchors = {cp.count: cp for cp in checkpoints}
    prev, checked, seen_keyed = GENESIS, 0, False

    def bad(entry_id: int | None, problem: str) -> VerifyResult:
        return VerifyResult(False, checked, entry_id, problem, mode, len(checkpoints))

    if 0 in anchors and anchors[0].hash != GENESIS:
        return bad(None, f"checkpoint {anchors[0]} is not an empty chain")
    for entry in iter_entries(session):
        if entry.id != checked + 1:
            return bad(entry.id, f"entry {checked + 1} is missing (next is {entry.id})")
        if entry.prev_hash != prev:
            return bad(entry.id, "previous-hash link does not match the entry before it")
        problem = _entry_problem(entry, key, seen_keyed)
        if problem:
            return bad(entry.id, problem)
        seen_keyed = seen_keyed or is_keyed(entry.hash)
        prev = entry.hash
        checked += 1
        anchor = anchors.get(checked)
        if anchor is not None and anchor.hash != entry.hash:
            return bad(entry.id, f"differs from checkpoint {anchor}: the chain was rewritten")
    if key is not None and checked and not seen_keyed:
        return bad(None, "no entry was written with the key (a key was given; the chain is "
                         "plain, or was rewritten without the key)")
    beyond = [cp for cp in checkpoints if cp.count > checked]
    if beyond:
        longest = max(beyond, key=lambda cp: cp.count)
        return bad(None, f"the chain has {checked} entries, fewer than checkpoint {longest}: "
                         "entries were deleted")
    return VerifyResult(True, checked, mode=mode, checkpoints=len(checkpoints))
