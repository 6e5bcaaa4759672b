"""Making what a purge deleted leave the database files (README, "Deleted means gone from the
file").

SQLite runs with ``secure_delete`` (storage/db.py), so deleted content is zeroed in the pages;
the old page images still sit in the write-ahead log until a checkpoint copies the log into the
file and truncates it. PostgreSQL leaves dead row versions in its tables until VACUUM removes
them. Both run outside any transaction, after the purge's transactions committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, text

from storage.models import (
    Case,
    CaseThreadRef,
    ChatCaseMessage,
    ChatNotification,
    IdentityChallenge,
    InboundMessage,
    OutboundAttachment,
    OutboundMessage,
)

#: The tables a purge may empty, by kind of purge (for VACUUM on PostgreSQL).
TABLES: dict[str, tuple[str, ...]] = {
    "mail": (InboundMessage.__tablename__,),  # type: ignore[dict-item]
    "attachments": (OutboundAttachment.__tablename__,),  # type: ignore[dict-item]
    "letters": tuple(str(t.__tablename__) for t in (OutboundMessage, OutboundAttachment)),
    "cases": tuple(str(t.__tablename__) for t in (
        InboundMessage, OutboundMessage, OutboundAttachment, ChatNotification, ChatCaseMessage,
        IdentityChallenge, CaseThreadRef, Case)),
}


@dataclass(frozen=True)
class Reclaimed:
    """What :func:`reclaim_space` did: SQLite's checkpoint result, PostgreSQL's vacuumed tables."""

    checkpoint_busy: bool = False
    vacuumed: tuple[str, ...] = ()


def reclaim_space(engine: Engine, tables: Iterable[str]) -> Reclaimed:
    """After a purge: SQLite copies the write-ahead log into the (secure-deleted) file and
    truncates it; PostgreSQL VACUUMs the tables that lost rows. Outside any transaction."""
    names = sorted(set(tables))
    known = {t for group in TABLES.values() for t in group}
    if any(name not in known for name in names):
        raise ValueError(f"not a table a purge empties: {names}")
    if engine.dialect.name == "sqlite":
        # The DB-API connection directly: SQLAlchemy's begin hook would open a transaction,
        # and a checkpoint inside one cannot finish.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            row = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        return Reclaimed(checkpoint_busy=bool(row and row[0]))
    if engine.dialect.name == "postgresql" and names:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.execute(text(f'VACUUM (ANALYZE) "{name}"'))
        return Reclaimed(vacuumed=tuple(names))
    return Reclaimed()
