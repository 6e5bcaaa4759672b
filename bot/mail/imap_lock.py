"""One IMAP watcher per mailbox across instances: a PostgreSQL session advisory lock.

Why a session lock (not a transaction lock or a lease): the watcher holds its mailbox for as
long as the process lives, and PostgreSQL releases a session lock by itself when the connection
dies, so a crashed instance hands the mailbox over without anyone waiting for a lease to run
out. The other instances try again every poll interval and stand by meanwhile. On SQLite (one
machine) there is nothing to lock.
"""

from __future__ import annotations

import contextlib
import logging
import zlib

from sqlalchemy import Connection, text

from storage.db import Database

log = logging.getLogger(__name__)

_ADVISORY_NAMESPACE = 0x696D6170  # "imap"


class WatchLock:
    """``hold()`` takes (or keeps) the mailbox's lock; ``release()`` gives it back."""

    def __init__(self, db: Database, account: str, mailbox: str) -> None:
        self._db = db
        key = zlib.crc32(f"{account}|{mailbox}".encode())
        self._key = key - 2**32 if key >= 2**31 else key
        self._conn: Connection | None = None

    def hold(self) -> bool:
        """True when this instance watches the mailbox (now or already)."""
        if self._db.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            return True
        conn = self._db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"),
                           {"a": _ADVISORY_NAMESPACE, "b": self._key}).scalar()
        conn.commit()
        if got:
            self._conn = conn
            return True
        conn.close()
        log.info("imap watcher: another instance watches this mailbox; standing by")
        return False

    def release(self) -> None:
        if self._conn is not None:
            # Invalidate (really close) the connection: that is what releases a session lock.
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None
