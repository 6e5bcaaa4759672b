"""The classifier scores mail without spaCy (nlp_models.bow, nlp_models.vocab); its scores must
be spaCy's own, to the bit, or the thresholds chosen for a trained model would no longer mean
what they meant. spaCy itself is the reference here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy
import spacy
import spacy.symbols
from spacy.lang.lex_attrs import word_shape as spacy_word_shape
from spacy.strings import hash_string as spacy_hash_string
from spacy.tokens import Doc

from nlp_models.classifier import DEFAULT_MODEL_DIR, Classifier
from nlp_models.corpus import read_examples
from nlp_models.features import UNKNOWN_TOKEN, model_tokens
from nlp_models.model_files import PIPE, PIPELINE_DIR
from nlp_models.sentences import sentences
from nlp_models.vocab import _SYMBOLS_FILE, Vocabulary, hash_string, word_shape

CORPUS_DIR = Path(__file__).resolve().parents[1] / "nlp_models" / "corpus"
PIPELINE = DEFAULT_MODEL_DIR / PIPELINE_DIR


def _texts() -> list[tuple[str, str]]:
    out = []
    for folder in ("dev", "holdout"):
        for ex in read_examples(CORPUS_DIR / folder):
            out.append((ex.subject, ex.body))
            out.extend(("", part) for part in sentences(ex.subject, ex.body))
    return out


def test_mail_scores_are_spacys_textcat_scores_to_the_bit() -> None:
    """Mail after mail in one process (the vocabulary grows as it did with spaCy `Doc`s)."""
    classifier = Classifier(DEFAULT_MODEL_DIR)
    nlp = spacy.load(PIPELINE)
    textcat = nlp.get_pipe(PIPE)
    texts = _texts()
    assert len(texts) > 3000
    for start in range(0, len(texts), 64):
        batch = texts[start:start + 64]
        docs = []
        for subject, text in batch:
            known = nlp.vocab.strings
            words = [t if t in known else UNKNOWN_TOKEN for t in model_tokens(subject, text)]
            docs.append(Doc(nlp.vocab, words=words))
        spacys = numpy.asarray(textcat.predict(docs), dtype="f")  # type: ignore[attr-defined]
        ours = classifier._bow.scores([classifier._tokens(s, t) for s, t in batch])
        assert numpy.array_equal(numpy.asarray(ours, dtype="f"), spacys), batch[0][1][:80]
    # The strings that joined spaCy's vocabulary joined ours.
    assert set(nlp.vocab.strings) | set(spacy.symbols.IDS) | {""} == classifier._vocab.known


def test_token_hashes_shapes_and_symbols_are_spacys() -> None:
    strings = json.loads((PIPELINE / "vocab" / "strings.json").read_text(encoding="utf-8"))
    strings += ["", "ä", "€uro", "日本語のテキスト", "x" * 17, "#unk"]
    assert all(hash_string(s) == spacy_hash_string(s) for s in strings if s)
    assert all(word_shape(s) == spacy_word_shape(s) for s in [*strings, "A" * 120])
    assert json.loads(_SYMBOLS_FILE.read_text(encoding="utf-8")) == dict(spacy.symbols.IDS)


def test_lexeme_strings_are_what_spacy_adds() -> None:
    """A lexeme adds its lower case, norm, prefix, suffix, shape and language: for our tokens
    the norm is the lower case (spaCy's norm exceptions are punctuation and currency)."""
    nlp = spacy.load(PIPELINE)
    getters = nlp.vocab.lex_attr_getters
    for token in ["s:det", "poistakaa", "@data+delete", "#unk", "rekis~", "#5", "Ärende"]:
        derived = {v for v in (f(token) for f in getters.values()) if isinstance(v, str)}
        ours = Vocabulary([], {}, nlp.lang)
        ours.orth(token)
        assert ours.known == {"", token} | derived


def test_a_text_without_tokens_scores_nothing() -> None:
    classifier = Classifier(DEFAULT_MODEL_DIR)
    assert classifier._bow.scores([[]]) == [[0.0] * len(classifier._bow.labels)]
