"""`classify(subject, body)`: intents, language, entities and whether staff must look.

A missed request is a missed legal deadline, a false one wastes staff time; so when the model is
unsure the answer says so (`needs_review`) instead of guessing. Unsure means: a request score in
the grey zone below the threshold, a request and `other` both claimed, nothing claimed at all, or
a text with nothing to judge (empty, binary, a blob of base64).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from nlp_models import rules
from nlp_models.entities import Entity, extract_entities
from nlp_models.features import UNKNOWN_TOKEN, model_tokens
from nlp_models.labels import LABELS, OTHER, REQUEST_LABELS
from nlp_models.langid import LanguageIdentifier
from nlp_models.preprocess import CleanText, clean_body
from nlp_models.rectification import rectification_entities
from nlp_models.train import LANGID_FILE, PIPE, PIPELINE_DIR, read_meta

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "model"

THRESHOLD = 0.5
REVIEW_LOW = 0.35
"""A request scored between REVIEW_LOW and THRESHOLD is neither claimed nor ruled out. Chosen
on out-of-fold scores of the training set (5-fold): 0.35 keeps missed requests near 1% there;
a lower bound sends more mail to staff (0.30: review 19% out-of-fold) for little gain."""
OTHER_SURE = 0.5
SECONDARY = 0.8
"""A second (third...) request must score this much, not just THRESHOLD: words of one request
leak a little weight to requests they often come with ("copy of all my data" lifts erasure),
so a weak extra label is more often wrong than right (out-of-fold macro-F1 0.876 -> 0.883).
Such a label is kept in `possible`, which staff see, rather than dropped unseen."""

_LETTER = re.compile(r"[^\W\d_]")
_BLOB = re.compile(r"[A-Za-z0-9+/=]{60,}")


@dataclass(frozen=True)
class Classification:
    labels: list[str]
    scores: dict[str, float]
    language: str
    entities: list[Entity]
    needs_review: bool
    model_version: str
    reasons: list[str] = field(default_factory=list)
    """Why `needs_review` is set (no personal data, safe to log)."""
    possible: list[str] = field(default_factory=list)
    """Requests that scored too low to claim but too high to rule out."""


def is_garbage(text: str) -> bool:
    """Nothing a person wrote: too few letters, control bytes, or one long encoded blob."""
    sample = text[:20_000]
    visible = [ch for ch in sample if not ch.isspace()]
    if not visible:
        return True
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\t") + sample.count("\ufffd")
    if controls / len(sample) > 0.02:
        return True
    # Encoded blobs (base64, signatures) beside a few real words do not make the words garbage.
    readable = _BLOB.sub(" ", sample)
    visible = [ch for ch in readable if not ch.isspace()]
    letters = len(_LETTER.findall(readable))
    return letters < 2 or letters / max(1, len(visible)) < 0.5


@dataclass(frozen=True)
class Decision:
    labels: list[str]
    needs_review: bool
    reasons: list[str]
    possible: list[str]


def decide(scores: Mapping[str, float], garbage: bool) -> Decision:
    """Labels, needs_review, the reasons and the possible extra requests, from the scores."""
    ranked = sorted((x for x in REQUEST_LABELS if scores[x] >= THRESHOLD), key=lambda x: -scores[x])
    requests = ranked[:1] + [x for x in ranked[1:] if scores[x] >= SECONDARY]
    labels = requests or [OTHER]
    reasons: list[str] = []
    if garbage:
        reasons.append("no readable text")
    if requests and scores[OTHER] >= OTHER_SURE:
        reasons.append("request and other both likely")
    grey = [label for label in REQUEST_LABELS if REVIEW_LOW <= scores[label] < THRESHOLD]
    if grey:
        reasons.append("uncertain: " + ", ".join(grey))
    if not requests and scores[OTHER] < OTHER_SURE:
        reasons.append("no intent is likely")
    possible = [x for x in ranked if x not in requests] + grey
    return Decision(labels, bool(reasons), reasons, possible)


class Classifier:
    """The loaded model; one per process (see `load_classifier`)."""

    def __init__(self, model_dir: Path, *, use_rules: bool = True) -> None:
        self.model_dir = model_dir
        self.use_rules = use_rules
        meta = read_meta(model_dir)
        self.version = str(meta.get("version", "unknown"))
        self._nlp: Language = spacy.load(model_dir / PIPELINE_DIR)
        self._textcat = self._nlp.get_pipe(PIPE)
        langid_json = (model_dir / LANGID_FILE).read_text(encoding="utf-8")
        self._langid = LanguageIdentifier.from_json(json.loads(langid_json))

    def model_scores(self, subject: str, own: str) -> dict[str, float]:
        # Only tokens the model was trained on: an unseen token has no weight of its own, and
        # adding it would grow the vocabulary of a long-running process without bound.
        known = self._nlp.vocab.strings
        words = [t if t in known else UNKNOWN_TOKEN for t in model_tokens(subject, own)]
        doc = Doc(self._nlp.vocab, words=words)
        cats = self._textcat(doc).cats
        return {label: float(cats.get(label, 0.0)) for label in LABELS}

    def classify(self, subject: str, body: str, *, from_display: str = "") -> Classification:
        subject = _text(subject)[:1000]
        body = _text(body)
        clean = clean_body(body)
        own = clean.own
        garbage = is_garbage(f"{subject}\n{own}")
        scores = self.model_scores(subject, own)
        if self.use_rules and scores[OTHER] < OTHER_SURE:
            # Not when the model is sure the mail asks nothing: a newsletter or webinar about
            # privacy names every right ("tarkastusoikeus, siirto-oikeus...") and asks none.
            scores = rules.apply_rules(scores, rules.rule_labels(subject, own))
        if garbage:
            scores = {label: (1.0 if label == OTHER else 0.0) for label in LABELS}
        decision = decide(scores, garbage)
        language = self._langid.detect(f"{own}\n{subject}" if len(own) < 40 else own)
        entities = _entities(clean, decision.labels, from_display)
        return Classification(
            labels=decision.labels,
            scores={label: round(scores[label], 4) for label in LABELS},
            language=language,
            entities=entities,
            needs_review=decision.needs_review,
            model_version=self.version,
            reasons=decision.reasons,
            possible=decision.possible,
        )


def _text(value: object) -> str:
    """Whatever arrives (None, bytes) becomes text; the classifier never raises on input."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _entities(clean: CleanText, labels: list[str], from_display: str) -> list[Entity]:
    """Entities of the sender's part of the mail (own text and signature), not quoted mail."""
    text = clean.full[: clean.new_end]
    found = extract_entities(text, clean.signature, from_display)
    if "rectification" in labels:
        found.extend(rectification_entities(text, clean.own, found))
    return found


@functools.cache
def load_classifier(model_dir: Path = DEFAULT_MODEL_DIR, use_rules: bool = True) -> Classifier:
    """The classifier for `model_dir`, loaded once per process."""
    return Classifier(model_dir, use_rules=use_rules)


def classify(subject: str, body: str, *, from_display: str = "") -> Classification:
    """Classify one message with the committed model (see module docstring)."""
    return load_classifier().classify(subject, body, from_display=from_display)
