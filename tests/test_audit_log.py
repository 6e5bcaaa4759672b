"""The audit log is append-only and hash-chained; tampering is found and named."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from storage import audit
from storage.db import Database
from tests.helpers import run_cli


def _append(db: Database, n: int) -> None:
    for i in range(n):
        with db.session() as session:
            audit.record(session, audit.BOT_ACTOR, "test.event", details={"i": i})


def test_intact_chain_verifies(db: Database) -> None:
    _append(db, 5)
    with db.read_session() as session:
        result = audit.verify(session)
    assert result.ok and result.checked == 5


def test_edited_entry_breaks_the_chain_at_that_entry(db: Database) -> None:
    _append(db, 6)
    with db.session() as session:
        session.execute(text("UPDATE auditentry SET actor = 'staff:mallory' WHERE id = 4"))
    with db.read_session() as session:
        result = audit.verify(session)
    assert not result.ok
    assert result.bad_entry_id == 4
    assert "altered" in (result.problem or "")


def test_deleted_entry_is_found(db: Database) -> None:
    _append(db, 5)
    with db.session() as session:
        session.execute(text("DELETE FROM auditentry WHERE id = 3"))
    with db.read_session() as session:
        result = audit.verify(session)
    assert not result.ok and result.bad_entry_id == 4


def test_entry_rewritten_with_a_fresh_hash_still_breaks_the_next_link(db: Database) -> None:
    _append(db, 4)
    with db.session() as session:
        entry = session.get(audit.AuditEntry, 2)
        assert entry is not None
        entry.details = {"i": 999}
        entry.hash = audit.entry_hash(entry)
        session.add(entry)
    with db.read_session() as session:
        result = audit.verify(session)
    assert not result.ok and result.bad_entry_id == 3


def test_audit_verify_cli_exits_1_naming_the_edited_row(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "sqlite:///d.db"\n', encoding="utf-8")
    assert run_cli("--config", str(cfg), "init").exit_code == 0
    assert run_cli("--config", str(cfg), "demo-data", "--customers", "10").exit_code == 0
    ok = run_cli("--config", str(cfg), "audit", "verify")
    assert ok.exit_code == 0 and "intact" in ok.stdout
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    with db.session() as session:
        session.execute(text("UPDATE auditentry SET details = '{\"customers\": 1}' WHERE id = 1"))
    db.dispose()
    bad = run_cli("--config", str(cfg), "audit", "verify")
    assert bad.exit_code == 1
    assert "entry 1" in bad.stderr


def test_entries_after_an_undone_savepoint_chain_to_what_survived(db: Database) -> None:
    """A batch of mail writes the chain in one transaction, one savepoint per message: the
    entries of a message that fails are undone, and the next message's entry must follow the
    last entry that stayed, or the chain breaks at the first failed message."""
    with db.session() as session:
        kept = audit.record(session, audit.BOT_ACTOR, "test.kept")
        try:
            with session.begin_nested():
                audit.record(session, audit.BOT_ACTOR, "test.undone")
                raise RuntimeError("the message's stage failed")
        except RuntimeError:
            pass
        after = audit.record(session, audit.BOT_ACTOR, "test.after")
        assert after.prev_hash == kept.hash
    with db.read_session() as session:
        result = audit.verify(session)
        assert result.ok, result.problem
        assert result.checked == 2
