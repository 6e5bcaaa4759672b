"""The service's main process per batch of mail (issue 13): what the CPU worker leaves to it.

The end-to-end rate of ``bench_service.py`` is bounded by the slower of two processes: the
CPU worker (parse, triage, classify) and the main process, which commits each batch (its DB
stages, in one transaction). This measures the main process alone, in process and without
the noise of the service's other threads: the stored mails' CPU stages are run first (as the
worker would, outcomes pickled as through its pipe), then ``process_pending`` commits them
with a runner that hands those outcomes back. Reported: CPU seconds of each, and their ratio
(the end-to-end rate can reach half the CPU stages' rate only if it is under ~2 with the two
processes on two free cores). ``--profile`` prints where the main process spends its time.

Run: ``python benchmarks/bench_commit_stage.py [--messages 1000] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import pstats
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_service import cli, free_port, write_config, write_mbox

from bot import pipeline
from bot.cpu_worker import Outcome, run_stages
from bot.settings import load_settings
from handlers import intake
from handlers.intake import Work
from storage.db import Database


class Replay:
    """A CPU runner that hands back outcomes computed beforehand (as the worker's pipe would)."""

    def __init__(self, pickled: dict[int, bytes]) -> None:
        self._pickled, self._queue = pickled, deque[int]()

    def submit(self, work: Work, now: datetime) -> None:
        self._queue.append(work.inbound_id)

    def next_outcome(self, should_stop: Callable[[], bool]) -> Outcome:
        outcome: Outcome = pickle.loads(self._pickled[self._queue.popleft()])
        return outcome

    def close(self) -> None:
        self._queue.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    root = Path(tempfile.mkdtemp(prefix="bench-commit-"))
    cfg = write_config(root, free_port())
    os.chdir(root)
    cli(cfg, "init")
    cli(cfg, "ingest", "--store-only", str(write_mbox(root / "batch.mbox", args.messages)))
    settings = load_settings(cfg)
    db = Database(settings.database.url, audit_key=settings.audit_key())
    policy = pipeline.intake_policy(settings)
    works = pipeline._load(db, list(range(1, args.messages + 1)))
    pipeline.warm_up(settings)  # as the service does before its port answers
    t0 = time.process_time()
    pickled = {w.inbound_id: pickle.dumps(run_stages(
        pipeline.cpu_stages(), w, intake.Context(policy=policy, now=datetime.now(UTC))))
        for w in works}
    cpu = time.process_time() - t0
    profile = cProfile.Profile() if args.profile else None
    t0, w0 = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    counts = pipeline.process_pending(db, settings, runner=Replay(pickled))
    if profile:
        profile.disable()
    commit, wall = time.process_time() - t0, time.perf_counter() - w0
    print(f"CPU stages: {cpu:.2f} s CPU; main process (batches committed): {commit:.2f} s CPU, "
          f"{wall:.2f} s wall; main / CPU stages = {commit / cpu:.2f} ({counts})")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(r"bot/|handlers/|storage/", 40)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
