"""A console look, audited by the quick path exactly as :mod:`bot.cli.console_looks` does.

The entry is appended in a ``BEGIN IMMEDIATE`` transaction of its own, as every writer of the
chain does on SQLite (storage.db), and hashed by :mod:`storage.audit_chain`, the function the
ORM writer uses; ``dsrbot audit verify`` cannot tell the two writers' entries apart. It is
written before anything is printed: if the trail cannot be written, nothing is shown (the
full path then tries, and reports its error).
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli.console_user import ConsoleRefusal, ConsoleUser, operator_actor
from bot.cli.quick.db import stamp_of
from bot.cli.quick.declined import Declined
from storage import audit_chain

#: As bot.settings.MIN_AUDIT_KEY_CHARS: a shorter key is a config error (the full path says so).
MIN_AUDIT_KEY_CHARS = 32


def audit_key(source: dict[str, str] | None) -> bytes | None:
    """The audit key from where the validated settings found it, read now."""
    if source is None:
        return None
    if "env" in source:
        raw = os.environ.get(source["env"])
    else:
        try:
            raw = Path(source["file"]).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise Declined("audit key file unreadable") from None
    if raw is None or len(raw) < MIN_AUDIT_KEY_CHARS:
        raise Declined("audit key missing or too short")
    return raw.encode()


def console_actor(console_users: dict[str, str]) -> tuple[str, str]:
    """``(actor, os_user)`` as the full path attributes a look (bot.cli.console_user)."""
    user = ConsoleUser.current()
    try:
        name = user.mapped_name(console_users, None)
    except ConsoleRefusal:  # refused, with exit 2: the full path words and audits that
        raise Declined("OS user not in staff.console_users") from None
    return operator_actor(name), user.os_user


def record_look(conn: sqlite3.Connection, values: dict[str, Any], action: str, *,
                case_id: str | None = None, customer_number: str | None = None,
                **details: Any) -> None:
    key = audit_key(values.get("audit_key"))
    actor, os_user = console_actor(values.get("console_users") or {})
    entry_details = {"channel": "console", "personal_data": True, **details, "os_user": os_user}
    conn.execute("BEGIN IMMEDIATE")
    try:
        head = conn.execute("SELECT id, hash FROM auditentry ORDER BY id DESC LIMIT 1").fetchone()
        if key is None and head is not None and audit_chain.is_keyed(head[1]):
            raise Declined("the audit log is keyed and no key is configured")
        entry_id = int(head[0]) + 1 if head is not None else 1
        prev_hash = str(head[1]) if head is not None else audit_chain.GENESIS
        at = datetime.now(UTC)
        digest = audit_chain.hash_of(audit_chain.canonical(
            id=entry_id, at=at, actor=actor, action=action, case_id=case_id,
            customer_number=customer_number, details=entry_details, prev_hash=prev_hash), key)
        conn.execute("INSERT INTO auditentry (id, at, actor, action, case_id, customer_number, "
                     "details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (entry_id, stamp_of(at), actor, action, case_id, customer_number,
                      json.dumps(entry_details), prev_hash, digest))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
