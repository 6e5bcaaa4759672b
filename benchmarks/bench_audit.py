"""Audit chain benchmark (issue 14): append and verify, plain SHA-256 against the HMAC key,
and verify against a checkpoint. SQLite in a temporary folder.

Run: ``python benchmarks/bench_audit.py [--entries N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from storage import audit, migrate
from storage.db import Database

KEY = b"k" * 64


def run(folder: Path, entries: int, key: bytes | None) -> None:
    url = f"sqlite:///{folder / ('keyed' if key else 'plain')}.db"
    migrate.upgrade(url)
    db = Database(url, audit_key=key)
    mode = "keyed" if key else "plain"
    start = time.perf_counter()
    for chunk in range(0, entries, 500):
        with db.session() as session:
            for i in range(chunk, min(chunk + 500, entries)):
                audit.record(session, audit.BOT_ACTOR, "bench.event", details={"i": i})
    took = time.perf_counter() - start
    print(f"{mode}: append {entries:,} entries (500 per transaction) {entries / took:,.0f}/s")
    with db.read_session() as session:
        checkpoint = audit.head(session)
        start = time.perf_counter()
        result = audit.verify(session, key=key, checkpoints=[checkpoint])
        took = time.perf_counter() - start
    assert result.ok, result.problem
    print(f"{mode}: verify {result.checked:,} entries + 1 checkpoint in {took:.2f} s "
          f"= {result.checked / took:,.0f}/s")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for key in (None, KEY):
            run(Path(tmp), args.entries, key)


if __name__ == "__main__":
    main()
