"""`dsrbot nlp train`: train, then score on held-out data and keep the scores with the model.

Kept apart from :mod:`nlp_models.train` because scoring needs the whole classifier (rules,
thresholds, language identification), which itself loads what training writes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlp_models.classifier import Classifier
from nlp_models.corpus import read_examples
from nlp_models.evaluate import classify_all, evaluate
from nlp_models.train import TrainConfig, train_and_save, write_meta

_KEPT = ("macro_f1", "exact_match", "missed_request_rate", "review_rate", "language_accuracy")


def train_and_score(
    data: Path,
    out: Path,
    dev: Path | None,
    *,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Train on `data` into `out`; score on `dev` (never trained on) when given."""
    meta = train_and_save(data, out, TrainConfig(seed=seed), progress)
    if dev is not None:
        examples = read_examples(dev)
        report = evaluate(classify_all(Classifier(out), examples))
        meta["scores"] = {"dev": {k: report[k] for k in _KEPT} | {
            "examples": report["examples"],
            "per_label_f1": {k: v["f1"] for k, v in report["per_label"].items()},
            "rectification_value_accuracy": report["rectification"]["value_accuracy"],
        }}
        write_meta(out, meta)
    return meta
