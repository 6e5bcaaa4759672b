"""What a transaction already knows about itself, kept while it lasts (``session.info``).

A batch of mail commits in one transaction; some facts need reading only once in it: the audit
chain's head (the transaction holds the chain's lock), the cases it has already locked or
created. A memo is forgotten on ANY rollback (also of one message's savepoint: what it held
may have been undone) and when the transaction ends (the next one must read and lock again).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

_INFO = "dsrbot_txmemo"
#: Kept for the session's life (the memo itself is dropped): its listeners are registered.
_LISTENING = "dsrbot_txmemo_listening"


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_INFO, None)


def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction itself (not a savepoint) ended
        session.info.pop(_INFO, None)


def memo(session: Session, name: str) -> dict[Any, Any]:
    """The transaction's memo called ``name`` (empty when it starts or after a rollback)."""
    if _LISTENING not in session.info:  # (``event.contains`` on every call cost more)
        if not event.contains(session, "after_soft_rollback", _forget):
            event.listen(session, "after_soft_rollback", _forget)
            event.listen(session, "after_transaction_end", _forget_at_end)
        session.info[_LISTENING] = True
    memos: dict[str, dict[Any, Any]] = session.info.setdefault(_INFO, {})
    return memos.setdefault(name, {})


def next_row_id(session: Session, model: Any) -> int | None:
    """The id SQLite would give ``model``'s next row in this transaction, or None elsewhere.

    An ORM row whose id is known before it is written needs no flush to learn it, and rows of
    one table are then written in one statement at the next flush (SQLite returns ids one row
    at a time, so rows without ids go one statement each). The transaction holds SQLite's
    write lock (``BEGIN IMMEDIATE``): the last id is read once and counted on, as SQLite's
    own rowid would be (max + 1). Every row of ``model`` added in the transaction must take
    its id from here. Any rollback forgets the count; it is read again from what survived.
    """
    if session.get_bind().dialect.name != "sqlite":
        return None
    known = memo(session, "row_ids")
    table = model.__tablename__
    if table not in known:
        known[table] = int(session.execute(select(func.max(model.id))).scalar_one() or 0)
    known[table] += 1
    return int(known[table])
