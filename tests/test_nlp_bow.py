"""The classifier scores mail without spaCy `Doc`s; the scores must be spaCy's own, to the bit,
or a retrained model's chosen thresholds would no longer mean what they meant."""

from __future__ import annotations

from pathlib import Path

import numpy
from spacy.tokens import Doc

from nlp_models import load_classifier
from nlp_models.corpus import read_examples
from nlp_models.features import sentences

CORPUS_DIR = Path(__file__).resolve().parents[1] / "nlp_models" / "corpus"


def _texts() -> list[tuple[str, str]]:
    out = []
    for folder in ("dev", "holdout"):
        for ex in read_examples(CORPUS_DIR / folder):
            out.append((ex.subject, ex.body))
            out.extend(("", part) for part in sentences(ex.subject, ex.body))
    return out


def test_mail_scores_are_spacys_textcat_scores_to_the_bit() -> None:
    classifier = load_classifier()
    vocab = classifier._nlp.vocab
    textcat = classifier._textcat
    texts = _texts()
    assert len(texts) > 3000
    for start in range(0, len(texts), 64):
        batch = [classifier._tokens(subject, text) for subject, text in texts[start:start + 64]]
        docs = [Doc(vocab, words=[vocab.strings[orth] for orth in orths]) for orths in batch]
        spacys = numpy.asarray(textcat.predict(docs), dtype="f")  # type: ignore[attr-defined]
        ours = numpy.asarray(classifier._bow.scores(batch), dtype="f")
        assert numpy.array_equal(ours, spacys), texts[start][1][:80]


def test_a_text_without_tokens_scores_nothing() -> None:
    classifier = load_classifier()
    assert classifier._bow.scores([[]]) == [[0.0] * len(classifier._bow.labels)]
