"""Classifier speed and memory in one process: model load time, messages/s, p50/p99, peak RSS.

Run: python benchmarks/bench_classify.py [--rounds N] [--data PATH] [--model DIR]
The messages are the corpus (train, dev and holdout, bodies as written: quotes, HTML,
signatures), cycled `--rounds` times, plus one 2 MB body to show the cost of the worst case.
Throughput is given by the wall clock and by the process's own CPU time: on a machine shared
with other work the wall clock measures the others too, the CPU time only this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT / "nlp_models" / "corpus")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()

    messages = []
    for file in sorted(args.data.rglob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                messages.append((obj.get("subject") or "", obj.get("body") or ""))

    rss_before = _rss_mb()
    started = time.perf_counter()
    cpu_started = time.process_time()
    from nlp_models import load_classifier

    classifier = load_classifier(args.model) if args.model else load_classifier()
    classifier.classify("warm", "up")
    load_s = time.perf_counter() - started
    load_cpu = time.process_time() - cpu_started

    timings: list[float] = []
    cpu = time.process_time()
    wall = time.perf_counter()
    for _ in range(args.rounds):
        for subject, body in messages:
            t = time.perf_counter()
            classifier.classify(subject, body)
            timings.append(time.perf_counter() - t)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu

    big = "Hei, poistakaa tietoni. " + "lorem ipsum dolor sit amet " * 80_000
    t = time.perf_counter()
    classifier.classify("", big)
    big_ms = (time.perf_counter() - t) * 1000

    timings.sort()
    p50 = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99) - 1] * 1000
    print(f"messages:        {len(timings)} ({len(messages)} distinct x {args.rounds})")
    print(f"model load:      {load_s:.3f} s wall, {load_cpu:.3f} s CPU (imports + pipeline"
          " + language profiles)")
    print(f"throughput:      {len(timings) / wall:.0f} messages/s wall clock, "
          f"{len(timings) / cpu:.0f} messages per CPU second (one process, one thread)")
    print(f"load average:    {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"per message:     p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {timings[-1] * 1000:.2f} ms")
    print(f"2 MB body:       {big_ms:.1f} ms")
    print(f"peak RSS:        {_rss_mb():.0f} MB (interpreter before import: {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
