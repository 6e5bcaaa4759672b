"""What a transaction already knows about itself, kept while it lasts (``session.info``).

A batch of mail commits in one transaction; some facts need reading only once in it: the audit
chain's head (the transaction holds the chain's lock), the cases it has already locked or
created. A memo is forgotten on ANY rollback (also of one message's savepoint: what it held
may have been undone) and when the transaction ends (the next one must read and lock again).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.elements import TextClause

_INFO = "dsrbot_txmemo"
#: Kept for the session's life (the memo itself is dropped): its listeners are registered.
_LISTENING = "dsrbot_txmemo_listening"
#: Memos read from a table, by name: the table, whose writes in the session drop them.
_READS = "dsrbot_txmemo_reads"


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_INFO, None)


def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction itself (not a savepoint) ended
        session.info.pop(_INFO, None)


def _drop_reading(session: Session, tables: set[str]) -> None:
    memos = session.info.get(_INFO)
    if not memos:
        return
    for name, table in session.info.get(_READS, {}).items():
        if table in tables:
            memos.pop(name, None)


def _pending_tables(session: Session) -> set[str]:
    """Tables of the ORM rows the session would write at its next flush."""
    if not (session.new or session.dirty or session.deleted):
        return set()
    return {getattr(obj, "__tablename__", "") for obj in
            (*session.new, *session.dirty, *session.deleted)}


def _before_flush(session: Session, *_args: object) -> None:
    """ORM rows about to be written (new, changed, deleted): memos read from their tables go."""
    if session.info.get(_READS):
        _drop_reading(session, _pending_tables(session))


def _on_execute(state: ORMExecuteState) -> None:
    """A statement that may write (Core/ORM insert, update, delete, or SQL text naming the
    table): memos read from its table go, before it runs."""
    if state.is_select or not state.session.info.get(_READS):
        return
    statement = state.statement
    if isinstance(statement, TextClause):
        sql = statement.text.lower()
        _drop_reading(state.session, {t for t in state.session.info[_READS].values() if t in sql})
        return
    table = getattr(statement, "table", None)
    _drop_reading(state.session, {str(getattr(table, "name", ""))})


def reading(session: Session, name: str, table: str) -> dict[Any, Any]:
    """:func:`memo` of what was read from ``table``: also dropped when the session writes to
    that table (an ORM flush of its rows, or an insert, update or delete statement), so a
    later read in the same transaction sees what an earlier one wrote, as a query would."""
    reads: dict[str, str] = session.info.setdefault(_READS, {})
    if name not in reads:
        reads[name] = table
        if not event.contains(session, "before_flush", _before_flush):
            event.listen(session, "before_flush", _before_flush)
            event.listen(session, "do_orm_execute", _on_execute)
    if session.autoflush and table in _pending_tables(session):
        # A query would flush these rows first and see them: the caller must query.
        _drop_reading(session, {table})
    return memo(session, name)


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
