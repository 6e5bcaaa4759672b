"""Thresholds are chosen out of fold, per whole corpus file, and travel with the model."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from nlp_models.classifier import Classifier
from nlp_models.corpus import read_examples
from nlp_models.crossval import choose_thresholds, file_folds, out_of_fold, predict, score
from nlp_models.decision import DEFAULT, Thresholds, decide
from nlp_models.labels import LABELS, OTHER, REQUEST_LABELS
from nlp_models.train import META_FILE, TrainConfig
from nlp_models.training_run import train_and_score

ROOT = Path(__file__).resolve().parents[1] / "nlp_models"
SMALL = TrainConfig(epochs=3, synthetic_pairs=20, bow_length=2**12, average_seeds=1)


def _scores(**given: float) -> dict[str, float]:
    return {label: given.get(label, 0.01) for label in LABELS}


def test_a_sentence_that_plainly_asks_claims_a_second_request() -> None:
    t = Thresholds(sentence=0.9, sentence_floor=0.2)
    scores = _scores(access=0.97, erasure=0.3)
    assert decide(scores, False, t).labels == ["access"]
    both = decide(scores, False, t, sentence_best={"erasure": 0.95})
    assert both.labels == ["access", "erasure"] and not both.needs_review


def test_sentence_evidence_never_turns_ordinary_mail_into_a_request() -> None:
    t = Thresholds(sentence=0.9, sentence_floor=0.2)
    decision = decide(_scores(other=0.95, erasure=0.3), False, t, sentence_best={"erasure": 0.99})
    assert decision.labels == [OTHER]


def test_out_of_fold_decision_is_the_same_rule_as_the_classifiers() -> None:
    """`crossval.predict` chooses thresholds for `decision.decide`; if the two ever disagreed,
    the thresholds would be chosen for a rule the classifier does not apply."""
    rng = random.Random(5)
    examples = read_examples(ROOT / "corpus" / "dev")[:300]
    scores = np.array([[rng.random() ** rng.choice((0.3, 1, 3)) for _ in LABELS]
                       for _ in examples])
    best = np.array([[rng.random() for _ in REQUEST_LABELS] for _ in examples])
    garbage = np.array([rng.random() < 0.05 for _ in examples])
    gold = np.array([[x in e.labels for x in LABELS] for e in examples])
    from nlp_models.crossval import OutOfFold

    oof = OutOfFold(list(examples), scores, best, garbage, gold)
    for t in (DEFAULT, Thresholds(0.45, 0.6, 0.3, 0.6, 0.9, 0.1, 0.95),
              Thresholds(0.6, 0.9, 0.2, 0.4, sentence_review=0.8),
              Thresholds(0.5, 0.8, 0.3, 0.5, 0.9, 0.2, 0.95, sentence_claim=0.9)):
        labels, review = predict(oof, t)
        for i in range(len(examples)):
            d = decide(dict(zip(LABELS, scores[i], strict=True)), bool(garbage[i]), t,
                       dict(zip(REQUEST_LABELS, best[i], strict=True)))
            assert [x for x, on in zip(LABELS, labels[i], strict=True) if on] == sorted(
                d.labels, key=LABELS.index)
            assert bool(review[i]) == d.needs_review


def test_folds_hold_whole_files_and_every_file_once() -> None:
    files = sorted((ROOT / "corpus" / "train").glob("*.jsonl"))
    groups = file_folds(ROOT / "corpus" / "train", 5)
    assert len(groups) == 5
    assert sorted(f for g in groups for f in g) == files
    sizes = [sum(f.stat().st_size for f in g) for g in groups]
    assert max(sizes) < 1.5 * min(sizes)


@pytest.fixture(scope="module")
def three_writers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small corpus files, as if from three writers."""
    lines = [x for f in sorted((ROOT / "corpus" / "train").glob("*.jsonl"))
             for x in f.read_text(encoding="utf-8").splitlines() if x.strip()][::15]
    folder = tmp_path_factory.mktemp("writers")
    for k in range(3):
        (folder / f"writer-{k}.jsonl").write_text("\n".join(lines[k::3]) + "\n",
                                                  encoding="utf-8")
    return folder


def test_every_training_mail_is_scored_by_a_model_that_never_saw_its_file(
        three_writers: Path) -> None:
    oof = out_of_fold(three_writers, SMALL, folds=3)
    ids = sorted(e.id for e in oof.examples)
    assert ids == sorted(e.id for e in read_examples(three_writers))
    assert oof.scores.shape == (len(ids), len(LABELS))
    report = score(oof, *predict(oof, DEFAULT))
    assert 0.0 < report["macro_f1"] <= 1.0


def test_chosen_thresholds_are_never_worse_out_of_fold_than_the_defaults(
        three_writers: Path) -> None:
    oof = out_of_fold(three_writers, SMALL, folds=3)
    chosen, report = choose_thresholds(oof, max_review=1.0, max_missed=1.0)
    assert report["macro_f1"] >= score(oof, *predict(oof, DEFAULT))["macro_f1"]
    assert report == score(oof, *predict(oof, chosen))


def test_training_stores_the_thresholds_and_the_classifier_uses_them(
        three_writers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nlp_models.training_run.TrainConfig",
                        lambda seed: TrainConfig(seed=seed, epochs=3, synthetic_pairs=20,
                                                 bow_length=2**12))
    meta = train_and_score(three_writers, tmp_path / "m", {}, folds=3)
    stored = json.loads((tmp_path / "m" / META_FILE).read_text(encoding="utf-8"))
    assert stored["thresholds"] == meta["thresholds"]
    assert stored["crossval"]["chosen"]["examples"] == len(read_examples(three_writers))
    assert Classifier(tmp_path / "m").thresholds == Thresholds.from_json(stored["thresholds"])


def test_training_in_parallel_stores_the_same_model_and_thresholds(
        three_writers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nlp_models.training_run.TrainConfig",
                        lambda seed: TrainConfig(seed=seed, epochs=3, synthetic_pairs=20,
                                                 bow_length=2**12))
    one = train_and_score(three_writers, tmp_path / "one", {}, folds=3)
    parallel = train_and_score(three_writers, tmp_path / "parallel", {}, folds=3, jobs=3)
    assert parallel["thresholds"] == one["thresholds"]
    assert parallel["crossval"] == one["crossval"]
    model = Path("pipeline") / "textcat_multilabel" / "model"
    assert (tmp_path / "parallel" / model).read_bytes() == (tmp_path / "one" / model).read_bytes()


def test_a_stricter_stored_threshold_changes_the_answer(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(ROOT / "model", model)
    text = "Hello, please send me a copy of all the personal data you hold about me."
    assert Classifier(model).classify("", text).labels == ["access"]
    meta = json.loads((model / META_FILE).read_text(encoding="utf-8"))
    meta["thresholds"] = Thresholds(threshold=1.5, secondary=1.5, review_low=0.2).to_json()
    (model / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    strict = Classifier(model).classify("", text)
    assert strict.labels == [OTHER] and strict.needs_review


def test_skipping_sentences_never_changes_the_answer() -> None:
    """The classifier scores sentences only when `sentences_may_decide`; where it says no,
    the decision with every sentence's score must be the decision without them."""
    from nlp_models.decision import sentences_may_decide

    rng = random.Random(11)
    t = Thresholds(0.5, 0.8, 0.35, 0.5, 0.9, 0.1)
    skipped = 0
    for _ in range(3000):
        scores = {x: rng.random() ** rng.choice((0.3, 4, 12)) for x in LABELS}
        best = {x: rng.random() for x in REQUEST_LABELS}
        if not sentences_may_decide(scores, t):
            skipped += 1
            assert decide(scores, False, t, best) == decide(scores, False, t)
    assert skipped > 100


def test_a_request_buried_in_an_order_mail_goes_to_staff() -> None:
    """The mail as a whole reads as an order complaint; one sentence of it asks for erasure."""
    t = Thresholds(sentence_review=0.95)
    scores = _scores(other=0.99, erasure=0.05)
    assert not decide(scores, False, t).needs_review
    decision = decide(scores, False, t, sentence_best={"erasure": 0.97})
    assert decision.labels == [OTHER] and decision.needs_review
    assert decision.possible == ["erasure"] and "one sentence asks: erasure" in decision.reasons


def test_folds_trained_in_parallel_give_the_same_scores(three_writers: Path) -> None:
    one = out_of_fold(three_writers, SMALL, folds=3)
    parallel = out_of_fold(three_writers, SMALL, folds=3, jobs=3)
    assert [e.id for e in parallel.examples] == [e.id for e in one.examples]
    assert np.array_equal(parallel.scores, one.scores)
    assert np.array_equal(parallel.sentence_best, one.sentence_best)


def test_the_shipped_thresholds_keep_a_margin_below_the_targets_out_of_fold() -> None:
    """The targets are 1% missed requests and 10% review on strangers' mail; the thresholds
    are chosen out of fold inside the smaller budgets, since the chosen point sits at the
    budgets' edge and strangers land above it. The model in the repository must have been
    trained under them (`dsrbot nlp train` stores the out-of-fold figures it chose by)."""
    from nlp_models.crossval import MAX_MISSED_RATE, MAX_REVIEW_RATE

    assert MAX_MISSED_RATE < 0.01 and MAX_REVIEW_RATE < 0.10
    meta = json.loads((ROOT / "model" / META_FILE).read_text(encoding="utf-8"))
    chosen = meta["crossval"]["chosen"]
    assert chosen["missed_request_rate"] <= MAX_MISSED_RATE
    assert chosen["review_rate"] <= MAX_REVIEW_RATE
    assert meta["thresholds"] == meta["crossval"]["thresholds"]
