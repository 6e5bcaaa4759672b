"""Kill/restart benchmark (issue 4): SIGKILL ``dsrbot run`` many times during one batch.

Stores a backlog of N mails (``dsrbot ingest --store-only``), then starts the service and kills
it with SIGKILL after each further slice of the batch, for C cycles, and lets a last start
finish. Reports lost messages, duplicated cases, double replies (a case with two different
receipt Message-IDs) and repeated deliveries of the same Message-ID (harmless resends).

Run: ``python benchmarks/bench_kill_restart.py [--messages 1000] [--cycles 20]``
"""

from __future__ import annotations

import argparse
import mailbox
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for tests.backlog

from sqlmodel import select

from storage.db import Database
from storage.models import Case, InboundMessage, OutboundMessage
from tests.backlog import build_mbox


def processed(db: Database) -> int:
    with db.read_session() as s:
        return len(s.exec(select(InboundMessage.id)
                          .where(InboundMessage.state != "received")).all())


def dsrbot(cfg: Path, *args: str, background: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DSRBOT_CONFIG": str(cfg)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    if not background:
        proc.wait()
    return proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=20)
    args = ap.parse_args()
    requests = args.messages * 2 // 3
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        out = base / "outbox"
        cfg = base / "c.toml"
        cfg.write_text(
            '[database]\nurl = "sqlite:///d.db"\n'
            f'[mail.outgoing]\nmaildir = "{out}"\nlease_seconds = 2\n'
            "[mail.receiver]\nenabled = false\n[scheduler]\nenabled = false\n")
        dsrbot(cfg, "init")
        build_mbox(base / "backlog.mbox", requests, args.messages - requests, tag="bench")
        dsrbot(cfg, "ingest", "--store-only", str(base / "backlog.mbox"))
        db = Database(f"sqlite:///{base / 'd.db'}")
        kills, t0 = 0, time.perf_counter()
        for cycle in range(1, args.cycles + 1):
            target = args.messages * cycle // (args.cycles + 1)
            proc = dsrbot(cfg, "run", background=True)
            while processed(db) < target and proc.poll() is None:
                time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += processed(db) < args.messages
        proc = dsrbot(cfg, "run", background=True)
        while processed(db) < args.messages:
            time.sleep(0.05)
        with db.read_session() as s:
            receipts = [r for r in s.exec(select(OutboundMessage))
                        if r.kind == "receipt"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(r.state != "sent" for r in receipts):
            time.sleep(0.2)
            with db.read_session() as s:
                receipts = [r for r in s.exec(select(OutboundMessage)) if r.kind == "receipt"]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        elapsed = time.perf_counter() - t0
        with db.read_session() as s:
            rows = s.exec(select(InboundMessage)).all()
            cases = s.exec(select(Case)).all()
        db.dispose()
        per_requester = Counter(c.requester for c in cases)
        per_case = Counter(r.case_id for r in receipts)
        files = Counter(m["Message-ID"] for m in mailbox.Maildir(str(out), create=False))
        lost = sum(r.state == "received" for r in rows) + (requests - len(per_requester))
        print(f"{args.cycles} SIGKILLs ({kills} mid-batch) over {args.messages} messages "
              f"in {elapsed:.1f} s")
        print(f"lost: {lost}; duplicated cases: {sum(v - 1 for v in per_requester.values())}; "
              f"double replies: {sum(v - 1 for v in per_case.values())}; "
              f"receipts not delivered: {len(set(r.message_id for r in receipts) - set(files))}; "
              f"same Message-ID delivered again: {sum(v - 1 for v in files.values())}")


if __name__ == "__main__":
    main()
