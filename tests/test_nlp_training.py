"""Training: same data and seed give the same model; metadata says what it was trained on."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import spacy

from nlp_models.classifier import Classifier
from nlp_models.corpus import CorpusError, read_examples
from nlp_models.train import META_FILE, PIPELINE_DIR, TrainConfig, train_and_save

CORPUS = Path(__file__).resolve().parents[1] / "nlp_models" / "corpus" / "train"
SMALL = TrainConfig(epochs=3, synthetic_pairs=40, bow_length=2**12, average_seeds=1)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 12th training example: enough to train, fast enough for the suite."""
    lines = [x for f in sorted(CORPUS.glob("*.jsonl"))
             for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "small.jsonl").write_text("\n".join(lines[::12]) + "\n", encoding="utf-8")
    return folder


def _scores(model: Path, texts: list[str]) -> list[dict[str, float]]:
    classifier = Classifier(model)
    return [classifier.classify("", t).scores for t in texts]


def test_training_is_reproducible_with_the_seed(small_corpus: Path, tmp_path: Path) -> None:
    a = train_and_save(small_corpus, tmp_path / "a", SMALL)
    b = train_and_save(small_corpus, tmp_path / "b", SMALL)
    weights = Path(PIPELINE_DIR) / "textcat_multilabel" / "model"
    assert (tmp_path / "a" / weights).read_bytes() == (tmp_path / "b" / weights).read_bytes()
    texts = ["poistakaa tietoni", "send me my data", "var är mitt paket?"]
    assert _scores(tmp_path / "a", texts) == _scores(tmp_path / "b", texts)
    assert a["train_data_sha256"] == b["train_data_sha256"]


def test_a_different_seed_gives_a_different_model(small_corpus: Path, tmp_path: Path) -> None:
    train_and_save(small_corpus, tmp_path / "a", SMALL)
    train_and_save(small_corpus, tmp_path / "b", replace(SMALL, seed=7))
    weights = Path(PIPELINE_DIR) / "textcat_multilabel" / "model"
    assert (tmp_path / "a" / weights).read_bytes() != (tmp_path / "b" / weights).read_bytes()


def test_metadata_names_the_data_hash_version_and_config(
        small_corpus: Path, tmp_path: Path) -> None:
    train_and_save(small_corpus, tmp_path / "m", SMALL)
    meta = json.loads((tmp_path / "m" / META_FILE).read_text(encoding="utf-8"))
    assert len(meta["train_data_sha256"]) == 64
    assert f"-{meta['train_data_sha256'][:8]}-c" in meta["version"]
    assert meta["version"].endswith("-s0")
    assert meta["config"]["seed"] == 0 and meta["train_examples"] > 50


def test_models_trained_with_other_settings_have_other_versions(
        small_corpus: Path, tmp_path: Path) -> None:
    """Same data, same seed, other settings: the version tells them apart (a 2**18-bucket
    candidate and the shipped model were once both "20261208-d3386edf-s0")."""
    a = train_and_save(small_corpus, tmp_path / "a", SMALL)
    b = train_and_save(small_corpus, tmp_path / "b", replace(SMALL, bow_length=2**13))
    assert a["version"] != b["version"]
    assert a["version"].split("-")[:2] == b["version"].split("-")[:2]


def _logits(model: Path, texts: list[str]) -> np.ndarray:
    """The raw model's scores (no rules, no thresholds) as logits."""
    nlp = spacy.load(model / PIPELINE_DIR)
    rows = []
    for text in texts:
        doc = nlp(text)
        rows.append([doc.cats[label] for label in sorted(doc.cats)])
    p = np.clip(np.array(rows), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def test_a_model_averaged_over_seeds_scores_the_mean_of_its_members(
        small_corpus: Path, tmp_path: Path) -> None:
    """Averaging the weights of seeds 0, 1 and 2 gives one model whose every score is the mean
    of the three members' logits: the hash buckets mean the same tokens in each member."""
    texts = ["poistakaa tietoni rekisteristä", "send me a copy of my data as CSV",
             "ingen reklam tack", "var är mitt paket?"]
    members = []
    for seed in range(3):
        train_and_save(small_corpus, tmp_path / f"s{seed}", replace(SMALL, seed=seed))
        members.append(_logits(tmp_path / f"s{seed}", texts))
    meta = train_and_save(small_corpus, tmp_path / "avg", replace(SMALL, average_seeds=3))
    averaged = _logits(tmp_path / "avg", texts)
    assert np.allclose(averaged, np.mean(members, axis=0), atol=1e-4)
    assert not np.allclose(averaged, members[0], atol=1e-2)
    assert meta["config"]["average_seeds"] == 3


def test_committed_model_is_small_enough_to_commit() -> None:
    """What each retrained model adds to the repository is what git stores: zlib-compressed
    blobs. Most hash buckets of the weights are never used (zero): a model of 2**18 buckets per
    label (tried in round r9) is 9.4 MB on disk but under 2 MB in git. The bound on disk keeps
    it from growing unnoticed (load time and memory are measured in benchmarks/)."""
    model = CORPUS.parents[1] / "model"
    files = [p for p in model.rglob("*") if p.is_file()]
    assert sum(len(zlib.compress(p.read_bytes())) for p in files) < 5_000_000
    assert sum(p.stat().st_size for p in files) < 16_000_000


def test_corpus_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "1", "subject": "", "body": "", "labels": ["other"]}\n{oops\n',
                    encoding="utf-8")
    with pytest.raises(CorpusError, match=r"x\.jsonl:2"):
        read_examples(path)


def test_buried_requests_keep_the_request_label_and_the_order_text() -> None:
    from nlp_models.features import model_tokens
    from nlp_models.train import _samples, synthetic_buried

    samples = _samples(read_examples(CORPUS / "fi-a.jsonl"))
    buried = synthetic_buried(samples, 50, seed=0)
    assert len(buried) == 50
    requests = {s.text: s.labels for s in samples if "other" not in s.labels}
    for mail in buried:
        assert "other" not in mail.labels
        assert any(text in mail.text and labels == mail.labels
                   for text, labels in requests.items())
        assert "@commerce" in model_tokens(mail.subject, mail.text)


def test_corpus_reminder_must_name_a_request_label(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "1", "subject": "", "body": "x", "labels": ["access"], '
                    '"reminder": {"date": "3.10.", "right": "copy"}}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"r\.jsonl:1: .reminder\.right."):
        read_examples(path)
