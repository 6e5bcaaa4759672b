"""Two service instances on one database do each reminder exactly once.

Two real processes (`dsrbot tick --now ...`) run concurrently against the same database, several
rounds, with enough due work that their runs overlap: reminders, escalations, warnings, expiring
identity codes, retention and the digest. Every action is then counted: exactly one each.
On PostgreSQL (the scale-out database) and on SQLite (two processes on one file).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from handlers import reminders as rules
from handlers.periodic import AUDIT_CHECKPOINT
from storage import audit
from storage.db import Database
from storage.models import CaseStatus
from tests import scheduler_kit as kit

NOW = kit.local("2026-12-22", 9)
SOON = 30  # cases received 24 Nov (due 28 Dec): a 3-day reminder and an extension warning
LATE = 20  # cases received 10 Nov (due 10 Dec): overdue
CODES = 6  # of each: a code to remind about, a code that expired
PAST_RETENTION = 10
ROUNDS = 3


def _populate(db: Database) -> None:
    for _ in range(SOON):
        kit.open_case(db, datetime(2026, 11, 24, 9, tzinfo=UTC), types=("access", "erasure"))
    for _ in range(LATE):
        kit.open_case(db, datetime(2026, 11, 10, 9, tzinfo=UTC), status=CaseStatus.APPROVED)
    for i in range(CODES):
        kit.case_awaiting_code(db, NOW - timedelta(hours=50), number=f"4{i:04d}")
        kit.case_awaiting_code(db, NOW - timedelta(hours=80), number=f"5{i:04d}")
    with db.session() as s:
        for i in range(PAST_RETENTION):
            kit.add_customer(s, f"6{i:04d}", email=f"gone{i}@example.fi", end=date(2015, 6, 1))
        held = kit.add_customer(s, "70000", email="held@example.fi", end=date(2015, 6, 1))
        kit.add_open_invoice(s, held, "INV-70000")


def _tick_process(cfg: str, moment: datetime) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSRBOT_")}
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "--config", cfg,
         "tick", "--now", moment.isoformat()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_two_instances_send_each_reminder_exactly_once(db: Database, tmp_path: Path) -> None:
    _populate(db)
    cfg = kit.write_config(tmp_path, db.url)
    for round_ in range(ROUNDS):
        moment = NOW + timedelta(minutes=round_)
        pair = [_tick_process(cfg, moment), _tick_process(cfg, moment)]
        for proc in pair:
            _out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-2000:]

    kinds = Counter(c.kind for c in kit.claims(db))
    assert kinds == {
        rules.DEADLINE: SOON, rules.EXTENSION_WARNING: SOON, rules.OVERDUE: LATE,
        rules.CHALLENGE_REMINDER: CODES, rules.CHALLENGE_EXPIRED: CODES,
        rules.RETENTION: PAST_RETENTION, rules.RETENTION_HELD: 1, rules.RETENTION_SWEEP: 1,
        rules.DIGEST: 1, AUDIT_CHECKPOINT: 1,
    }
    # Exactly one staff notification per (case, reminder); one digest.
    per_case = Counter((r.case_id, r.payload.get("reminder")) for r in kit.chat_rows(db))
    assert set(per_case.values()) == {1}
    assert per_case[(None, rules.DIGEST)] == 1
    assert sum(1 for (_, k) in per_case if k == rules.DEADLINE) == SOON
    assert sum(1 for (_, k) in per_case if k == rules.OVERDUE) == LATE
    # Exactly one letter per code: a reminder, then the neutral close.
    for kind in ("identity_reminder", "neutral"):
        sent = kit.letters(db, kind)
        assert len(sent) == CODES and len({m.case_id for m in sent}) == CODES, kind
    anonymised = [a.customer_number for a in kit.audit_actions(db, "retention.anonymised")]
    assert len(anonymised) == len(set(anonymised)) == PAST_RETENTION
    assert len(kit.audit_actions(db, "retention.held")) == 1
    assert len(kit.audit_actions(db, audit.CHECKPOINT_ACTION)) == 1  # one a day, not per instance
    with db.read_session() as s:
        assert audit.verify(s).ok
