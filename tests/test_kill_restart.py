"""SIGKILL the running service in the middle of a batch, restart it: nothing lost, nothing twice.

A backlog is stored first (``dsrbot ingest --store-only``); then ``dsrbot run`` processes it and
is killed with SIGKILL (no chance to clean up) at several points of the batch, and restarted
each time. At the end every message has been processed exactly once, every request has exactly
one case and one receipt, and every receipt reached the outbox maildir under one Message-ID.
"""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlmodel import select

from storage.db import Database
from storage.models import Case, InboundMessage, OutboundMessage
from tests.backlog import build_mbox
from tests.helpers import run_cli

REQUESTS = 40
OTHERS = 20


def _processed(db: Database) -> int:
    with db.read_session() as s:
        return len(s.exec(select(InboundMessage.id).where(InboundMessage.state != "received"))
                   .all())


def _start(cfg: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DSRBOT_CONFIG": str(cfg)}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_sigkill_mid_batch_loses_nothing_and_answers_nothing_twice(tmp_path: Path) -> None:
    outbox_dir = tmp_path / "outbox"
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[database]\nurl = "sqlite:///d.db"\n'
        f'[mail.outgoing]\nbackend = "maildir"\nmaildir = "{outbox_dir}"\nlease_seconds = 2\n'
        "[mail.receiver]\nenabled = false\n[scheduler]\nenabled = false\n"
        # Six batches, not two: the kills land between (and in) commits however fast the
        # pipeline is; with 50 per batch the 10 left could commit before the first kill.
        "[pipeline]\nbatch_size = 10\n", encoding="utf-8")
    assert run_cli("--config", str(cfg), "init").exit_code == 0
    backlog = build_mbox(tmp_path / "backlog.mbox", REQUESTS, OTHERS)
    stored = run_cli("--config", str(cfg), "ingest", "--store-only", str(backlog))
    assert stored.exit_code == 0, stored.stderr
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    total = REQUESTS + OTHERS

    kills = 0
    for fraction in (0.2, 0.45, 0.7):
        proc = _start(cfg)
        try:
            reached = _wait(lambda f=fraction: _processed(db) >= total * f, 120)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if reached and _processed(db) < total:
            kills += 1
    assert kills >= 2, "the service finished before it could be killed mid-batch"

    proc = _start(cfg)
    try:
        assert _wait(lambda: _processed(db) == total, 120)
        with db.read_session() as s:
            receipts = len(s.exec(select(OutboundMessage).where(
                OutboundMessage.kind == "receipt")).all())
        assert _wait(lambda: len(list(mailbox.Maildir(str(outbox_dir), create=False).keys()))
                     >= receipts, 60)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0

    with db.read_session() as s:
        rows = s.exec(select(InboundMessage)).all()
        cases = s.exec(select(Case)).all()
        letters = s.exec(select(OutboundMessage)).all()
    db.dispose()
    assert len(rows) == total and all(r.state != "received" for r in rows)
    assert len(cases) == REQUESTS
    assert sorted(c.requester for c in cases) == sorted(
        f"asiakas{n}@example.fi" for n in range(REQUESTS))
    receipts_per_case = Counter(r.case_id for r in letters if r.kind == "receipt")
    assert set(receipts_per_case.values()) == {1} and len(receipts_per_case) == REQUESTS
    delivered = Counter(
        m["Message-ID"] for m in mailbox.Maildir(str(outbox_dir), create=False))
    assert set(delivered) == {r.message_id for r in letters if r.kind == "receipt"}
    # A kill between writing a file and recording it resends the same Message-ID; the maildir
    # backend recognises its own file, so every letter is there exactly once.
    assert set(delivered.values()) == {1}
    assert all(r.state == "sent" for r in letters)
