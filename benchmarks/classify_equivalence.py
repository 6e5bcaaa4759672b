"""Proof that a speed change to the classifier changes no answer: every corpus mail's result.

Run with the old code, then the new, and compare:
    PYTHONPATH=/path/to/old python benchmarks/classify_equivalence.py dump old.json
    PYTHONPATH=$PWD python benchmarks/classify_equivalence.py dump new.json
    python benchmarks/classify_equivalence.py compare old.json new.json
`dump` writes, for every mail of the corpus (train, dev, holdout), the labels, scores, language,
entities, needs_review (with its reasons and near-misses), earlier_request and on_behalf_of;
`compare` says which mails differ (scores to 1e-6) and exits 1 if any does. The day a mail is
received is fixed, so a reminder's "3 October" dates the same way on any day the proof is run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "nlp_models" / "corpus"
RECEIVED = date(2026, 12, 7)
TOLERANCE = 1e-6


def _mails(corpus: Path) -> list[tuple[str, str, str]]:
    found = []
    for file in sorted(corpus.rglob("*.jsonl")):
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                obj = json.loads(line)
                key = f"{file.relative_to(corpus)}:{n}:{obj.get('id', '')}"
                found.append((key, obj.get("subject") or "", obj.get("body") or ""))
    return found


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def dump(out: Path, corpus: Path) -> None:
    from nlp_models import load_classifier

    classifier = load_classifier()
    results = {}
    for key, subject, body in _mails(corpus):
        c = classifier.classify(subject, body, received=RECEIVED)
        results[key] = {
            "labels": c.labels, "scores": c.scores, "language": c.language,
            "entities": _plain(c.entities), "needs_review": c.needs_review,
            "reasons": c.reasons, "possible": c.possible,
            "earlier_request": _plain(c.earlier_request), "on_behalf_of": _plain(c.on_behalf_of),
            "model_version": c.model_version,
        }
    out.write_text(json.dumps(results, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    print(f"{len(results)} mails -> {out}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        numbers = isinstance(a, (int, float)) and isinstance(b, (int, float))
        return numbers and abs(a - b) <= TOLERANCE
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def compare(old_file: Path, new_file: Path) -> int:
    old = json.loads(old_file.read_text(encoding="utf-8"))
    new = json.loads(new_file.read_text(encoding="utf-8"))
    differ = 0
    if old.keys() != new.keys():
        print(f"different mails: {len(old)} vs {len(new)}")
        return 1
    for key in old:
        fields = [f for f in old[key] if not _same(old[key][f], new[key].get(f))]
        if fields:
            differ += 1
            if differ <= 20:
                print(f"{key}: {', '.join(fields)}")
    print(f"{len(old)} mails compared, {differ} differ")
    return 1 if differ else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--corpus", type=Path, default=CORPUS)
    c = sub.add_parser("compare")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.out, args.corpus)
    else:
        sys.exit(compare(args.old, args.new))


if __name__ == "__main__":
    main()
