"""Train the intent model and the language profiles from the corpus; write them to model/.

Why a bag-of-words `textcat_multilabel` and not spaCy's default ensemble: on the dev split the
ensemble (with a CNN over hashed embeddings) scored no better (macro-F1 0.909 against 0.915-0.922),
trained five times slower and classifies four times slower. The linear model over the feature
tokens of :mod:`nlp_models.features` is small enough to commit and fast enough for a backlog.

Why synthetic pairs: almost every corpus mail asks one thing, so a linear model learns that
marketing words *lower* the erasure score, and then misses "delete me, and no more ads". Gluing
two training mails of the same language together, with the union of their requests as the
labels, teaches it that one request does not exclude another (dev macro-F1 0.887 -> 0.915).
Only requests are paired: a request next to small talk is already in the corpus.

Everything random is drawn from generators seeded by `TrainConfig.seed`, and examples are read in
a fixed order, so the same data and seed give the same model and the same scores.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example as SpacyExample
from spacy.util import fix_random_seed, minibatch

from nlp_models.corpus import Example, data_hash, jsonl_files, read_examples
from nlp_models.features import MIN_COUNT, UNKNOWN_TOKEN, model_tokens
from nlp_models.labels import LABELS, OTHER
from nlp_models.langid import train_language_identifier
from nlp_models.model_files import LANGID_FILE, META_FILE, PIPE, PIPELINE_DIR
from nlp_models.preprocess import clean_body, is_forward_subject


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    epochs: int = 30
    learn_rate: float = 0.001
    batch_size: int = 16
    dropout: float = 0.2
    synthetic_pairs: int = 1500
    synthetic_triples: int = 0
    synthetic_buried: int = 0
    bow_length: int = 2**16
    """Hash buckets per label; each token takes two. 2**18 looked better out of fold (12,127
    mails with round r9: macro-F1 0.9087 against 0.9017; 11,317 without r9: 0.9079 against
    0.9034), but on the strangers' sets it did not carry over: trained without r9, with its own
    out-of-fold thresholds, it scored 0.927 with 2 missed requests on holdout-r6 (written after
    the rule below was stated, scored once) against the shipped model's 0.942 with 1. The rule:
    a retrained model ships only if it is not worse on the newest untouched stranger's set
    (nlp_models/README.md, "Round r9")."""
    ngram_size: int = 1
    threshold: float = 0.5
    average_seeds: int = 3
    """Train this many models, with seeds `seed`, `seed + 1`, ..., and keep the mean of their
    weights. The model is linear, so the mean is one model of the same size and speed whose
    scores are the mean of its members' logits. Why: one seed alone moves a 240-mail stranger's
    set by up to 0.016 of macro-F1 and 4 points of review (holdout-r5, round r9), which is the
    size of most differences we try to measure; the mean of several seeds moves less. Measured
    (same data, thresholds out of fold): out of fold 0.9131 against one seed's 0.9034, dev
    0.956 against 0.938, and on holdout-r7 (a stranger's set scored only after the rule was
    stated) 0.944 / 0 missed / 6.2 % review against 0.940 / 0 / 6.7 %: shipped, and kept for
    the model trained after it with the strangers' sets (nlp_models/README.md). Training takes
    three times as long (about 25-30 min with `--jobs 2` on two cores)."""


def model_config(config: TrainConfig) -> dict[str, Any]:
    return {
        "model": {
            "@architectures": "spacy.TextCatBOW.v3",
            "exclusive_classes": False,
            "length": config.bow_length,
            "ngram_size": config.ngram_size,
            "no_output_layer": False,
        },
        "threshold": config.threshold,
    }


def _own(example: Example) -> str:
    """The sender's own words, as the classifier will read them (a forward's subject included)."""
    return clean_body(example.body, forwarded=is_forward_subject(example.subject)).own


@dataclass(frozen=True)
class _Sample:
    subject: str
    text: str
    labels: frozenset[str]
    lang: str


def _samples(examples: Sequence[Example]) -> list[_Sample]:
    return [
        _Sample(e.subject, _own(e), frozenset(e.labels), e.lang) for e in examples
    ]


def synthetic_pairs(
    samples: Sequence[_Sample], count: int, seed: int, parts: int = 2
) -> list[_Sample]:
    """`count` mails asking several things, each glued from `parts` training mails of one
    language with different requests."""
    requests = [s for s in samples if OTHER not in s.labels]
    by_lang: dict[str, list[_Sample]] = {}
    for s in requests:
        by_lang.setdefault(s.lang, []).append(s)
    rng = random.Random(seed + parts - 1)
    out: list[_Sample] = []
    attempts = 0
    while requests and len(out) < count and attempts < count * 20:
        attempts += 1
        first = rng.choice(requests)
        chosen = [first]
        for _ in range(parts - 1):
            chosen.append(rng.choice(by_lang[first.lang]))
        if len({c.labels for c in chosen}) < parts:
            continue
        labels = frozenset().union(*(c.labels for c in chosen))
        text = "\n\n".join(c.text for c in chosen)
        out.append(_Sample(first.subject, text, labels, first.lang))
    return out


def synthetic_buried(samples: Sequence[_Sample], count: int, seed: int) -> list[_Sample]:
    """`count` requests buried in ordinary mail: an order or invoice mail of one language with a
    request mail of the same language before or after it, labelled with the request.

    Without them the model learns that order words mean `other` so firmly that "...and the
    refund is still missing. Also, please delete my data." comes out as a confident `other`.
    """
    hosts: dict[str, list[_Sample]] = {}
    for s in samples:
        if OTHER in s.labels and "@commerce" in model_tokens(s.subject, s.text):
            hosts.setdefault(s.lang, []).append(s)
    requests = [s for s in samples if OTHER not in s.labels and hosts.get(s.lang)]
    rng = random.Random(seed + 101)
    out: list[_Sample] = []
    while requests and len(out) < count:
        request = rng.choice(requests)
        host = rng.choice(hosts[request.lang])
        parts = [host.text, request.text] if rng.random() < 0.7 else [request.text, host.text]
        out.append(_Sample(host.subject, "\n\n".join(parts), request.labels, request.lang))
    return out


def train_textcat(
    examples: Sequence[Example],
    config: TrainConfig,
    progress: Callable[[int, float], None] | None = None,
) -> Language:
    """A blank multilingual pipeline with a trained `textcat_multilabel` (the mean of
    `config.average_seeds` models, one per seed)."""
    members = [
        _train_one(examples, replace(config, seed=config.seed + i, average_seeds=1), progress)
        for i in range(max(1, config.average_seeds))
    ]
    return average_weights(members)


def average_weights(members: Sequence[Language]) -> Language:
    """The first member, its weights replaced by the mean of all members' weights.

    The members share one architecture and one hashing of tokens to buckets (the hash seed is
    fixed, not drawn), so bucket i means the same token set in each, and the mean of the linear
    weights scores every mail with the mean of the members' logits."""
    first = members[0]
    if len(members) == 1:
        return first
    nodes = [list(m.get_pipe(PIPE).model.walk())  # type: ignore[attr-defined]
             for m in members]
    for i, node in enumerate(nodes[0]):
        for name in node.param_names:
            if node.has_param(name):
                mean = sum(n[i].get_param(name) for n in nodes) / len(members)
                node.set_param(name, mean)
    return first


def _train_one(
    examples: Sequence[Example],
    config: TrainConfig,
    progress: Callable[[int, float], None] | None = None,
) -> Language:
    fix_random_seed(config.seed)
    nlp = spacy.blank("xx")
    textcat = nlp.add_pipe(PIPE, config=model_config(config))
    for label in LABELS:
        textcat.add_label(label)  # type: ignore[attr-defined]
    samples = _samples(examples)
    # Words seen once stand for "a word the model does not know", so that it learns a weight
    # for those too (counted on the real mails; synthetic pairs repeat them).
    counts = Counter(t for s in samples for t in set(model_tokens(s.subject, s.text)))
    samples = (samples + synthetic_pairs(samples, config.synthetic_pairs, config.seed)
               + synthetic_pairs(samples, config.synthetic_triples, config.seed, parts=3)
               + synthetic_buried(samples, config.synthetic_buried, config.seed))
    train: list[SpacyExample] = []
    for s in samples:
        seq = model_tokens(s.subject, s.text)
        words = [t if counts[t] >= MIN_COUNT else UNKNOWN_TOKEN for t in seq]
        doc = Doc(nlp.vocab, words=words)
        cats = {label: float(label in s.labels) for label in LABELS}
        train.append(SpacyExample.from_dict(doc, {"cats": cats}))
    optimizer = nlp.initialize(lambda: train)
    optimizer.learn_rate = config.learn_rate
    rng = random.Random(config.seed)
    for epoch in range(config.epochs):
        rng.shuffle(train)
        losses: dict[str, float] = {}
        for batch in minibatch(train, size=config.batch_size):
            nlp.update(batch, sgd=optimizer, losses=losses, drop=config.dropout)
        if progress is not None:
            progress(epoch + 1, losses.get(PIPE, 0.0))
    return nlp


def train_and_save(
    train_path: Path,
    out_dir: Path,
    config: TrainConfig | None = None,
    progress: Callable[[int, float], None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Train from `train_path` (file or folder of .jsonl), write model/ and return its metadata."""
    config = config or TrainConfig()
    examples = read_examples(train_path)
    nlp = train_textcat(examples, config, progress)
    langid = train_language_identifier(
        (e.lang, f"{e.subject}\n{_own(e)}") for e in examples
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out_dir / PIPELINE_DIR)
    (out_dir / LANGID_FILE).write_text(
        json.dumps(langid.to_json(), ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )
    digest = data_hash(jsonl_files(train_path))
    trained_at = (now or datetime.now(UTC)).replace(microsecond=0)
    meta: dict[str, Any] = {
        "version": model_version(trained_at, digest, config),
        "trained_at": trained_at.isoformat(),
        "train_data_sha256": digest,
        "train_examples": len(examples),
        "labels": list(LABELS),
        "config": asdict(config),
        "spacy_version": spacy.__version__,
        "scores": {},
    }
    write_meta(out_dir, meta)
    return meta


def model_version(trained_at: datetime, data_digest: str, config: TrainConfig) -> str:
    """`date-data-config-seed`: two models trained on the same data with different settings
    (bucket count, seeds averaged) get different names (before, a 2**18 candidate and the
    shipped 2**16 model were both "20261208-d3386edf-s0")."""
    settings = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()
    return f"{trained_at:%Y%m%d}-{data_digest[:8]}-c{settings[:6]}-s{config.seed}"


def write_meta(out_dir: Path, meta: dict[str, Any]) -> None:
    (out_dir / META_FILE).write_text(
        json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
