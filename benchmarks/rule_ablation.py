"""Which rule families pay on out-of-fold scores: each switched on alone and all together.

The fold models (whole writer files, as `dsrbot nlp crossval`) are trained once into a cache
directory and each mail's raw evidence is kept (model scores, best sentence, and what each rule
family would lift), so every variant is only a re-combination plus a threshold choice:

    PYTHONPATH=$PWD python benchmarks/rule_ablation.py --cache /tmp/abl [--jobs 2]

Families: `names` (legal names of rights, rules.asked_legal_names), `articles` (articles.py),
`reminders` (reminders.py through Classifier.reminded_rights), `sentences` (sentence evidence:
the `sentence*` thresholds; off = above 1). `--gates`: names and articles lifting a right only
where the model already gives it a floor (classifier.RULE_FLOOR). In the floored variants a
reminder's last fallback (the model claims nothing) still sees the unfloored lifts.
The thresholds are chosen on SMALL_GRID (the full grid takes minutes a variant).
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from nlp_models import rules
from nlp_models.articles import asked_rights
from nlp_models.classifier import RULES_UNLESS_OTHER, Classifier, is_garbage
from nlp_models.corpus import read_examples
from nlp_models.crossval import OutOfFold, choose_thresholds, file_folds, predict, score
from nlp_models.features import strip_reply_prefix
from nlp_models.labels import LABELS, OTHER, REQUEST_LABELS
from nlp_models.preprocess import clean_body, fold, is_forward_subject
from nlp_models.train import TrainConfig, train_and_save

DATA = Path(__file__).resolve().parents[1] / "nlp_models" / "corpus" / "train"
FAMILIES = ("names", "articles", "reminders")


def _train(k: int, others: list[str], cache: str) -> str:
    model = Path(cache) / f"model-{k}"
    if (model / "done").exists():
        return str(model)
    train_dir = Path(cache) / f"train-{k}"
    train_dir.mkdir(parents=True, exist_ok=True)
    for f in others:
        (train_dir / Path(f).name).write_bytes(Path(f).read_bytes())
    train_and_save(train_dir, model, TrainConfig(seed=0))
    (model / "done").write_text("1")
    return str(model)


def _rows(k: int, held: list[str], cache: str) -> str:
    """Per mail: raw scores, sentence best, garbage, and each family's lifted labels."""
    out = Path(cache) / f"rows-{k}.pkl"
    if out.exists():
        return str(out)
    clf = Classifier(Path(cache) / f"model-{k}", use_rules=False)
    rows: list[dict[str, Any]] = []
    for file in held:
        for ex in read_examples(Path(file)):
            subject = (ex.subject or "")[:1000]
            clean = clean_body(ex.body or "", forwarded=is_forward_subject(subject))
            own = clean.own
            raw = clf.model_scores(subject, own)
            subj, is_reply = strip_reply_prefix(subject)
            fs, ft = fold("" if is_reply else subj), fold(own[:20_000])
            names = rules.asked_legal_names(fs, ft)
            arts = asked_rights(fs, ft)
            lifted = rules.apply_rules(raw, names | arts) if raw[OTHER] < RULES_UNLESS_OTHER \
                else raw
            garbage = is_garbage(f"{subject}\n{own}")
            rows.append({
                "id": ex.id, "file": Path(file).name, "labels": list(ex.labels),
                "raw": raw, "best": clf.sentence_best(subject, own), "garbage": garbage,
                "names": sorted(names), "articles": sorted(arts),
                "rem_raw": list(clf.reminded_rights(subject, clean, raw)) if not garbage else [],
                "rem_full": list(clf.reminded_rights(subject, clean, lifted))
                if not garbage else [],
            })
    out.write_bytes(pickle.dumps(rows))
    return str(out)


def build(cache: Path, jobs: int) -> list[dict[str, Any]]:
    cache.mkdir(parents=True, exist_ok=True)
    groups = file_folds(DATA, 5)
    tasks = [(k, [str(f) for g in groups[:k] + groups[k + 1:] for f in g],
              [str(f) for f in held]) for k, held in enumerate(groups)]
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_train, [t[0] for t in tasks], [t[1] for t in tasks],
                      [str(cache)] * len(tasks)))
        print(f"fold models {time.time() - t0:.0f}s", file=sys.stderr)
        paths = list(pool.map(_rows, [t[0] for t in tasks], [t[2] for t in tasks],
                              [str(cache)] * len(tasks)))
    print(f"rows {time.time() - t0:.0f}s", file=sys.stderr)
    return [r for p in paths for r in pickle.loads(Path(p).read_bytes())]


def oof_of(rows: list[dict[str, Any]], on: set[str], floor: dict[str, float] | None = None,
           other_gate: float = RULES_UNLESS_OTHER) -> OutOfFold:
    """The out-of-fold evidence as `Classifier.evidence` makes it with only the families `on`;
    `floor[family]`: that family lifts a label only where the model scores it this much."""
    floor = floor or {}
    scores, best, garbage, gold = [], [], [], []
    for r in rows:
        s = dict(r["raw"])
        lift: set[str] = set()
        for fam in ("names", "articles"):
            if fam in on:
                lift |= {x for x in r[fam] if r["raw"][x] >= floor.get(fam, 0.0)}
        if lift and s[OTHER] < other_gate:
            s = rules.apply_rules(s, lift)
        if "reminders" in on:
            rem = r["rem_full"] if {"names", "articles"} <= on else r["rem_raw"]
            rem = [x for x in rem if r["raw"][x] >= floor.get("reminders", 0.0)]
            if rem:
                s = rules.apply_rules(s, set(rem))
                s[OTHER] = min(s[OTHER], 1 - rules.RULE_SCORE)
        if r["garbage"]:
            s = {x: (1.0 if x == OTHER else 0.0) for x in LABELS}
        scores.append([s[x] for x in LABELS])
        best.append([r["best"][x] for x in REQUEST_LABELS])
        garbage.append(r["garbage"])
        gold.append([x in r["labels"] for x in LABELS])
    return OutOfFold([], np.array(scores), np.array(best), np.array(garbage),
                     np.array(gold, dtype=bool))


SMALL_GRID: dict[str, tuple[float, ...]] = {
    "threshold": (0.4, 0.45, 0.5), "secondary": (0.8, 0.9), "review_low": (0.3, 0.35, 0.4),
    "other_sure": (0.5, 0.6), "sentence": (0.9, 0.95, 1.01), "sentence_floor": (0.1, 0.2),
    "sentence_review": (0.9, 0.95, 1.01), "sentence_claim": (0.95, 0.98, 1.01),
}
"""Around the thresholds chosen for the shipped model (the full grid takes minutes a variant)."""
NO_SENTENCES = {**SMALL_GRID, "sentence": (1.01,), "sentence_review": (1.01,),
                "sentence_claim": (1.01,), "sentence_floor": (0.1,)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--by-round", action="store_true")
    ap.add_argument("--gates", action="store_true", help="gated variants instead")
    args = ap.parse_args()
    rows = build(args.cache, args.jobs)
    if args.gates:
        gates(rows, args.by_round)
        return
    variants: list[tuple[str, set[str], bool]] = [("no rules, no sentences", set(), False),
                                                  ("sentences only", set(), True)]
    for fam in FAMILIES:
        variants.append((f"{fam} alone (+sentences)", {fam}, True))
    for a, b in itertools.combinations(FAMILIES, 2):
        variants.append((f"{a}+{b} (+sentences)", {a, b}, True))
    variants.append(("all rules, no sentences", set(FAMILIES), False))
    variants.append(("all rules + sentences (shipped)", set(FAMILIES), True))
    for name, on, sent in variants:
        report(rows, name, oof_of(rows, on), sent, args.by_round)


def gates(rows: list[dict[str, Any]], by_round: bool) -> None:
    """Names and articles lift a label only where the model already leans to it (a floor)."""
    for fam in ("names", "articles"):
        for g in (0.1, 0.2, 0.3):
            report(rows, f"reminders+{fam} floor {g}", oof_of(rows, {"reminders", fam}, {fam: g}),
                   True, by_round)
    for g in (0.1, 0.2, 0.3):
        report(rows, f"all, names+articles floor {g}",
               oof_of(rows, set(FAMILIES), {"names": g, "articles": g}), True, by_round)


def report(rows: list[dict[str, Any]], name: str, oof: OutOfFold, sent: bool,
           by_round: bool) -> None:
    """One line of JSON: the variant's figures at the thresholds chosen for it."""
    chosen, figs = choose_thresholds(oof, SMALL_GRID if sent else NO_SENTENCES)
    line: dict[str, Any] = {"variant": name, "macro_f1": figs["macro_f1"],
                            "missed": figs["missed_request_rate"], "review": figs["review_rate"],
                            "thresholds": chosen.to_json()}
    if by_round:
        labels, review = predict(oof, chosen)
        for rnd in sorted({r["file"].split("-")[-1].split(".")[0] for r in rows}):
            if not rnd.startswith("r"):
                continue
            idx = np.array([r["file"].split("-")[-1].startswith(rnd + ".") for r in rows])
            sub = replace(oof, scores=oof.scores[idx], sentence_best=oof.sentence_best[idx],
                          garbage=oof.garbage[idx], gold=oof.gold[idx])
            f = score(sub, labels[idx], review[idx])
            line[rnd] = (f["macro_f1"], f["missed_request_rate"], f["review_rate"])
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
