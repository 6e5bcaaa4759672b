"""How one audit entry is hashed into the chain: pure functions, no database.

Why apart from :mod:`storage.audit`: the quick console commands (:mod:`bot.cli.quick`) append
their "who looked" entries with the standard library's sqlite3, without the ORM, and their
entries must hash exactly as the ORM writer's do (``dsrbot audit verify`` checks both the
same way). One canonical form, one hash function, used by both writers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
KEYED_PREFIX = "hmac:"


def canonical(*, id: int | None, at: datetime, actor: str, action: str, case_id: str | None,
              customer_number: str | None, details: dict[str, Any], prev_hash: str) -> bytes:
    """The bytes an entry's hash covers: its content as sorted, compact JSON."""
    payload = {
        "id": id,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "customer_number": customer_number,
        "details": details,
        "prev_hash": prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def hash_of(content: bytes, key: bytes | None = None) -> str:
    """SHA-256 hex without a key; ``hmac:`` + base64url HMAC-SHA256 with one (48 chars)."""
    if key is None:
        return hashlib.sha256(content).hexdigest()
    mac = hmac.new(key, content, hashlib.sha256).digest()
    return KEYED_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def is_keyed(stored_hash: str) -> bool:
    return stored_hash.startswith(KEYED_PREFIX)
