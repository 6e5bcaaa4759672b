"""The audit chain is anchored: a checkpoint kept outside the database, or a key, finds the
rewrites a bare hash chain cannot (truncation, deleting everything, edit+rehash, forgery)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, col, select

from storage import audit
from storage.db import Database
from tests.helpers import run_cli

KEY = b"k" * 40


def _append(db: Database, n: int) -> None:
    for i in range(n):
        with db.session() as session:
            audit.record(session, audit.BOT_ACTOR, "test.event", details={"i": i})


def _checkpoint(db: Database) -> audit.Checkpoint:
    with db.read_session() as session:
        return audit.head(session)


def _verify(db: Database, *cps: audit.Checkpoint, key: bytes | None = None) -> audit.VerifyResult:
    with db.read_session() as session:
        return audit.verify(session, key=key, checkpoints=cps)


def _rehash_from(session: Session, first_id: int, key: bytes | None = None) -> None:
    """What an attacker with database access does after editing: recompute every later hash."""
    rows = session.exec(select(audit.AuditEntry).order_by(col(audit.AuditEntry.id))).all()
    prev = audit.GENESIS
    for entry in rows:
        if (entry.id or 0) >= first_id:
            entry.prev_hash = prev
            entry.hash = audit.entry_hash(entry, key)
            session.add(entry)
        prev = entry.hash
    session.flush()


def test_truncated_chain_fails_against_checkpoint(db: Database) -> None:
    _append(db, 6)
    cp = _checkpoint(db)
    with db.session() as session:
        session.execute(text("DELETE FROM auditentry WHERE id > :n"), {"n": cp.count - 2})
    assert _verify(db).ok  # a bare chain cannot see its tail go
    result = _verify(db, cp)
    assert not result.ok
    assert f"fewer than checkpoint {cp.count}" in (result.problem or "")


def test_deleting_all_entries_fails_against_checkpoint(db: Database) -> None:
    _append(db, 3)
    cp = _checkpoint(db)
    with db.session() as session:
        session.execute(text("DELETE FROM auditentry"))
    assert _verify(db).ok
    result = _verify(db, cp)
    assert not result.ok and "has 0 entries" in (result.problem or "")


def test_edited_and_rehashed_chain_fails_against_checkpoint(db: Database) -> None:
    _append(db, 5)
    cp = _checkpoint(db)
    with db.session() as session:
        entry = session.get(audit.AuditEntry, 2)
        assert entry is not None
        entry.actor = "staff:mallory"
        _rehash_from(session, 2)
    assert _verify(db).ok
    result = _verify(db, cp)
    assert not result.ok
    assert result.bad_entry_id == cp.count and "rewritten" in (result.problem or "")


def test_forged_append_in_place_of_the_tail_fails_against_checkpoint(db: Database) -> None:
    """The last real entry is deleted and a forged one appended in its place: same count."""
    _append(db, 4)
    cp = _checkpoint(db)
    with db.session() as session:
        session.execute(text("DELETE FROM auditentry WHERE id = :n"), {"n": cp.count})
    with db.session() as session:
        audit.record(session, "staff:anna", "case.approved", case_id="DSR-2026-0001")
    assert _checkpoint(db).count == cp.count
    assert _verify(db).ok
    assert not _verify(db, cp).ok


def test_chain_that_reaches_its_checkpoints_verifies(db: Database) -> None:
    _append(db, 2)
    early = _checkpoint(db)
    _append(db, 3)
    result = _verify(db, early, _checkpoint(db))
    assert result.ok and result.checkpoints == 2


def test_keyed_chain_edited_and_rehashed_without_the_key_fails_verify(db: Database) -> None:
    keyed = Database(db.url, audit_key=KEY)
    try:
        _append(keyed, 4)
        assert _verify(keyed, key=KEY).ok
        with keyed.session() as session:
            entry = session.get(audit.AuditEntry, 2)
            assert entry is not None
            entry.details = {"i": 999}
            _rehash_from(session, 2)  # plain SHA-256: the attacker has no key
        result = _verify(keyed, key=KEY)
        assert not result.ok and result.mode == "keyed"
        assert result.bad_entry_id == 2
        with keyed.session() as session:
            _rehash_from(session, 1, key=b"x" * 40)  # a guessed key fares no better
        result = _verify(keyed, key=KEY)
        assert not result.ok and "another key" in (result.problem or "")
    finally:
        keyed.dispose()


def test_forged_append_without_the_key_fails_keyed_verify(db: Database) -> None:
    keyed = Database(db.url, audit_key=KEY)
    try:
        _append(keyed, 3)
        with keyed.session() as session:
            last = session.get(audit.AuditEntry, 3)
            assert last is not None
            forged = audit.AuditEntry(id=4, at=last.at, actor="staff:anna",
                                      action="case.approved", details={}, prev_hash=last.hash,
                                      hash="")
            forged.hash = audit.entry_hash(forged)
            session.add(forged)
        result = _verify(keyed, key=KEY)
        assert not result.ok and result.bad_entry_id == 4
        assert "not keyed" in (result.problem or "")
    finally:
        keyed.dispose()


def test_a_process_without_the_key_cannot_append_to_a_keyed_chain(db: Database) -> None:
    keyed = Database(db.url, audit_key=KEY)
    plain = Database(db.url)
    try:
        _append(keyed, 1)
        try:
            _append(plain, 1)
        except audit.AuditKeyError as exc:
            assert "DSRBOT_AUDIT__KEY" in str(exc)
        else:
            raise AssertionError("a plain entry was appended after a keyed one")
        assert _checkpoint(keyed).count == 1
    finally:
        keyed.dispose()
        plain.dispose()


def _cli_db(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "sqlite:///d.db"\n', encoding="utf-8")
    assert run_cli("--config", str(cfg), "init").exit_code == 0
    return cfg


def test_audit_verify_cli_checks_checkpoints_and_names_the_problem(tmp_path: Path) -> None:
    cfg = _cli_db(tmp_path)
    assert run_cli("--config", str(cfg), "demo-data", "--customers", "3").exit_code == 0
    printed = run_cli("--config", str(cfg), "audit", "checkpoint")
    assert printed.exit_code == 0
    count, digest = printed.stdout.split()
    log = tmp_path / "audit-checkpoints.log"
    log.write_text(f"2026-12-07 {count} {digest}\n", encoding="utf-8")
    ok = run_cli("--config", str(cfg), "audit", "verify", "--checkpoints", str(log))
    assert ok.exit_code == 0 and "1 checkpoint(s)" in ok.stdout and "plain" in ok.stdout
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    with db.session() as session:
        session.execute(text("DELETE FROM auditentry"))
    db.dispose()
    assert run_cli("--config", str(cfg), "audit", "verify").exit_code == 0
    bad = run_cli("--config", str(cfg), "audit", "verify", "--checkpoint", f"{count} {digest}")
    assert bad.exit_code == 1
    assert f"fewer than checkpoint {count}" in bad.stderr
    garbled = run_cli("--config", str(cfg), "audit", "verify", "--checkpoint", "twelve")
    assert garbled.exit_code == 2 and "not a checkpoint" in garbled.stderr


def test_audit_verify_cli_says_which_mode_it_checked(tmp_path: Path) -> None:
    cfg = _cli_db(tmp_path)
    env = {"DSRBOT_AUDIT__KEY": KEY.decode()}
    assert run_cli("--config", str(cfg), "demo-data", "--customers", "2", env=env).exit_code == 0
    keyed = run_cli("--config", str(cfg), "audit", "verify", env=env)
    assert keyed.exit_code == 0 and "keyed" in keyed.stdout
    head = run_cli("--config", str(cfg), "audit", "checkpoint", env=env).stdout.strip()
    assert head.split()[1].startswith("hmac:")
    anchored = run_cli("--config", str(cfg), "audit", "verify", "--checkpoint", head, env=env)
    assert anchored.exit_code == 0 and "1 checkpoint(s)" in anchored.stdout
    no_key = run_cli("--config", str(cfg), "audit", "verify")
    assert no_key.exit_code == 1
    assert "no key was given" in no_key.stderr and "plain" in no_key.stderr


def test_audit_key_is_refused_in_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[audit]\nkey = "{KEY.decode()}"\n', encoding="utf-8")
    result = run_cli("--config", str(cfg), "audit", "checkpoint")
    assert result.exit_code == 2 and "DSRBOT_AUDIT__KEY" in result.stderr


def test_service_records_a_daily_checkpoint_in_digest_log_and_mail(
    db: Database, tmp_path: Path
) -> None:
    from tests import scheduler_kit as kit

    log = tmp_path / "anchors" / "audit-checkpoints.log"
    cfg = kit.write_config(tmp_path, db.url, f'[audit]\ncheckpoint_log = "{log}"\n'
                                             'checkpoint_to = "auditor@example.org"\n')
    _append(db, 3)
    head_before = _checkpoint(db)
    for hour in (9, 12):  # twice on a working day: one checkpoint
        tick = run_cli("--config", cfg, "tick", "--now", kit.local("2026-12-22", hour).isoformat())
        assert tick.exit_code == 0, tick.output
    assert log.read_text(encoding="utf-8") == f"2026-12-22 {head_before}\n"
    (digest,) = [r for r in kit.chat_rows(db) if r.payload.get("reminder") == "digest"]
    assert f"Audit checkpoint: {head_before}" in digest.payload["text"]
    (mail,) = kit.letters(db, "audit_checkpoint")
    assert mail.recipient == "auditor@example.org" and str(head_before) in mail.body_text
    # A Saturday has no digest, but still a checkpoint (announced on its own).
    run_cli("--config", cfg, "tick", "--now", kit.local("2026-12-26", 9).isoformat())
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and lines[1].startswith("2026-12-26 ")
    assert any("Audit checkpoint 2026-12-26" in r.payload["text"] for r in kit.chat_rows(db))
    # The log is what `verify --checkpoints` reads.
    ok = run_cli("--config", cfg, "audit", "verify", "--checkpoints", str(log))
    assert ok.exit_code == 0 and "2 checkpoint(s)" in ok.stdout
