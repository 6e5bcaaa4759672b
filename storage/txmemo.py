"""What a transaction already knows about itself, kept while it lasts (``session.info``).

A batch of mail commits in one transaction; some facts need reading only once in it: the audit
chain's head (the transaction holds the chain's lock), the cases it has already locked or
created. A memo is forgotten on ANY rollback (also of one message's savepoint: what it held
may have been undone) and when the transaction ends (the next one must read and lock again).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_INFO = "dsrbot_txmemo"


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_INFO, None)


def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction itself (not a savepoint) ended
        session.info.pop(_INFO, None)


def memo(session: Session, name: str) -> dict[Any, Any]:
    """The transaction's memo called ``name`` (empty when it starts or after a rollback)."""
    if not event.contains(session, "after_soft_rollback", _forget):
        event.listen(session, "after_soft_rollback", _forget)
        event.listen(session, "after_transaction_end", _forget_at_end)
    memos: dict[str, dict[Any, Any]] = session.info.setdefault(_INFO, {})
    return memos.setdefault(name, {})
