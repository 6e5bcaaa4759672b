"""`dsrbot nlp train`: train, choose the thresholds out of fold, score on held-out data, and keep
the thresholds and the scores with the model.

Kept apart from :mod:`nlp_models.train` because choosing and scoring need the whole classifier
(rules, thresholds, language identification), which itself loads what training writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from nlp_models.classifier import Classifier
from nlp_models.corpus import read_examples
from nlp_models.crossval import OutOfFold, choose_thresholds, out_of_fold, summary
from nlp_models.evaluate import classify_all, evaluate
from nlp_models.train import TrainConfig, train_and_save, write_meta

_KEPT = ("macro_f1", "exact_match", "missed_request_rate", "review_rate", "language_accuracy")


def training_config(seed: int, average_seeds: int | None = None) -> TrainConfig:
    """The settings `nlp train` and `nlp crossval` use: the defaults the shipped model was
    trained with, but for the seed and, when given, the number of seeds averaged."""
    config = TrainConfig(seed=seed)
    return config if average_seeds is None else replace(config, average_seeds=average_seeds)


def train_and_score(
    data: Path,
    out: Path,
    held_out: Mapping[str, Path | Sequence[Path]],
    *,
    seed: int = 0,
    folds: int = 5,
    jobs: int = 1,
    average_seeds: int | None = None,
    progress: Callable[[int, float], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train on `data` into `out`; with `folds`, choose the thresholds on out-of-fold scores of
    `data`; then score each held-out split (never trained or tuned on).

    Two held-out splits by default: `dev`, which design choices were measured on, and
    `holdout`, written by an author who never saw the training mail and looked at by nobody
    while tuning, so that its figure estimates mail from strangers rather than our own style.
    """
    config = training_config(seed, average_seeds)
    oof: OutOfFold | None
    if jobs > 1 and folds > 1:
        # The final model in a process of its own while the fold models train in theirs.
        with ProcessPoolExecutor(max_workers=1) as pool:
            final = pool.submit(train_and_save, data, out, config)
            oof = out_of_fold(data, config, folds, progress=say, jobs=jobs)
            meta = final.result()
    else:
        meta = train_and_save(data, out, config, progress)
        oof = out_of_fold(data, config, folds, progress=say) if folds > 1 else None
    if oof is not None:
        chosen, _ = choose_thresholds(oof)
        meta["thresholds"] = chosen.to_json()
        meta["crossval"] = summary(oof, chosen) | {"folds": folds}
        write_meta(out, meta)
    if held_out:
        classifier = Classifier(out)
        meta["scores"] = {}
        for split, paths in held_out.items():
            files = [paths] if isinstance(paths, Path) else list(paths)
            examples = [e for path in files for e in read_examples(path)]
            report = evaluate(classify_all(classifier, examples))
            meta["scores"][split] = {k: report[k] for k in _KEPT} | {
                "examples": report["examples"],
                "per_label_f1": {k: v["f1"] for k, v in report["per_label"].items()},
                "rectification_value_accuracy": report["rectification"]["value_accuracy"],
                "earlier_request": {k: v for k, v in report["earlier_request"].items()
                                    if k != "misses"},
                "on_behalf_of": report["on_behalf_of"],
            }
        write_meta(out, meta)
    return meta
