"""`classify(subject, body)`: intents, language, entities and whether staff must look.

The body is cleaned (:mod:`nlp_models.preprocess`), scored as a whole and sentence by sentence by
the trained pipeline, lifted by the rules where a right is named outright (:mod:`nlp_models.rules`)
or reminded of (:mod:`nlp_models.reminders`), and turned into labels by the model's own
thresholds (:mod:`nlp_models.decision`).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from nlp_models import rules
from nlp_models.bow import BagOfWords
from nlp_models.decision import Thresholds, decide, sentences_may_decide
from nlp_models.entities import Entity, extract_entities
from nlp_models.features import UNKNOWN_TOKEN, model_tokens
from nlp_models.labels import LABELS, OTHER, REQUEST_LABELS
from nlp_models.langid import LanguageIdentifier
from nlp_models.model_files import LANGID_FILE, PIPELINE_DIR, read_meta
from nlp_models.preprocess import CleanText, clean_body, is_forward_subject, older_text
from nlp_models.rectification import rectification_entities
from nlp_models.reminders import EarlierRequest, earlier_request, is_reminder, named_rights
from nlp_models.representative import OnBehalfOf, representation
from nlp_models.sentences import sentences
from nlp_models.vocab import Vocabulary

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "model"

REMINDER_CHARS = 20_000
"""Reminders and representation are said in the first pages; a 2 MB body must stay fast."""
UNKNOWN_TOKENS = 200_000
"""Unknown tokens `Classifier._tokens` remembers as such (bounded: unseen words never end)."""
RULES_UNLESS_OTHER = 0.5
"""The rules do not lift a mail the model finds this likely to ask nothing."""
RULE_FLOOR = 0.2
"""A right named by its legal name or article is lifted only where the model already gives it
this much. Out of fold (whole writer files), lifting every named right cost macro-F1 (0.8977
with sentence evidence alone, 0.8953 with legal names, 0.8955 with articles, 0.8932 with both):
strangers recite rights they do not ask for. With this floor the same rules gain a little
(0.9014 with reminders alone, 0.9018 with the floor) and send fewer mails to staff
(`benchmarks/rule_ablation.py`). Reminders are not floored: a reminder's words read as ordinary
mail, and the right it names is the request."""

_LETTERS = re.compile(r"[^\W\d_]+")
_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/=]{60,}")
"""Tried only where a run starts (a run shorter than 60 fails there and so at any later place
in it; a longer one matches from its start either way)."""
_VISIBLE = re.compile(r"\S")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


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
    earlier_request: EarlierRequest | None = None
    """The mail reminds of (or points at) a request sent before: its claimed date and right."""
    on_behalf_of: OnBehalfOf | None = None
    """The sender writes for someone else (lawyer, power of attorney, guardian): whom."""


def is_garbage(text: str) -> bool:
    """Nothing a person wrote: too few letters, control bytes, or one long encoded blob.
    (Counted with regular expressions, not character by character: `\\s` is `str.isspace`.)"""
    sample = text[:20_000]
    if not _VISIBLE.search(sample):
        return True
    controls = len(_CONTROL.findall(sample)) + sample.count("\ufffd")
    if controls / len(sample) > 0.02:
        return True
    # Encoded blobs (base64, signatures) beside a few real words do not make the words garbage.
    readable = _BLOB.sub(" ", sample)
    visible = len("".join(readable.split()))  # `str.split` splits where `\s` matches
    letters = len(readable) - len(_LETTERS.sub("", readable))
    return letters < 2 or letters / max(1, visible) < 0.5


@dataclass(frozen=True)
class Evidence:
    """One mail as the decision sees it: the cleaned text, the scores of the whole mail (with
    the rules applied), each request's best single-sentence score, and whether there was
    anything readable at all."""

    subject: str
    clean: CleanText
    scores: dict[str, float]
    sentence_best: dict[str, float]
    garbage: bool
    reminded: tuple[str, ...] = ()
    """The rights a reminder names (already lifted in `scores`)."""


class Classifier:
    """The loaded model; one per process (see `load_classifier`)."""

    def __init__(self, model_dir: Path, *, use_rules: bool = True) -> None:
        self.model_dir = model_dir
        self.use_rules = use_rules
        meta = read_meta(model_dir)
        self.version = str(meta.get("version", "unknown"))
        self.thresholds = Thresholds.from_json(meta.get("thresholds"))
        pipeline = model_dir / PIPELINE_DIR
        self._bow = BagOfWords.load(pipeline)
        lang = json.loads((pipeline / "meta.json").read_text(encoding="utf-8"))["lang"]
        self._vocab = Vocabulary.load(pipeline, lang)
        langid_json = (model_dir / LANGID_FILE).read_text(encoding="utf-8")
        self._langid = LanguageIdentifier.from_json(json.loads(langid_json))
        self._unknown: set[str] = set()
        """Tokens `_tokens` found unknown, while the known strings stay `_known_size` many."""
        self._known_size = len(self._vocab.known)

    def _tokens(self, subject: str, text: str) -> list[int]:
        """The model's tokens as the hashes a spaCy `Doc` of them would hold (ORTH), without
        spaCy (see :mod:`nlp_models.vocab`)."""
        # Only tokens the model was trained on: an unseen token has no weight of its own, and
        # adding it would grow the vocabulary of a long-running process without bound.
        vocab = self._vocab
        tokens = model_tokens(subject, text)
        made = vocab.orths
        orths = list(map(made.get, tokens))
        if None not in orths:
            return orths  # type: ignore[return-value]
        # The rest are unknown (`#unk`) if they were when last seen and nothing became known
        # since; otherwise known-ness is read for the whole list before any lexeme is made.
        known, unknown = vocab.known, self._unknown
        unk = made.get(UNKNOWN_TOKEN)
        pairs = zip(tokens, orths, strict=True)
        if unk is not None and all(t in unknown for t, o in pairs if o is None):
            return [unk if o is None else o for o in orths]
        words = [t if t in known else UNKNOWN_TOKEN for t in tokens]
        out = [orth if (orth := made.get(word)) is not None else vocab.orth(word)
               for word in words]
        if self._known_size != len(known):
            unknown.clear()  # a token unknown before may be known now
            self._known_size = len(known)
        if len(unknown) < UNKNOWN_TOKENS:
            unknown.update(t for t in tokens if t not in known)
        return out

    def _predict(self, docs: list[list[int]]) -> list[dict[str, float]]:
        """Scores for each token list (see `_tokens`), all in one batch through the model."""
        names = self._bow.labels
        return [dict(zip(names, row, strict=True)) for row in self._bow.scores(docs)]

    def model_scores(self, subject: str, own: str) -> dict[str, float]:
        """The pipeline's scores for the whole mail."""
        scores = self._predict([self._tokens(subject, own)])[0]
        return {label: scores.get(label, 0.0) for label in LABELS}

    def sentence_best(self, subject: str, own: str) -> dict[str, float]:
        """Per request, the best score of any one sentence scored alone."""
        parts = sentences(subject, own)
        rows = self._predict([self._tokens("", p) for p in parts]) if parts else []
        return {label: max((row.get(label, 0.0) for row in rows), default=0.0)
                for label in REQUEST_LABELS}

    def evidence(self, subject: str, body: str, *, every_sentence: bool = False) -> Evidence:
        """Everything the decision is made from (see :class:`Evidence`). Sentences are scored
        only where they can change the decision, unless `every_sentence` (for choosing the
        thresholds, which needs them all)."""
        subject = _text(subject)[:1000]
        clean = clean_body(_text(body), forwarded=is_forward_subject(subject))
        own = clean.own
        garbage = is_garbage(f"{subject}\n{own}")
        scores = self.model_scores(subject, own)
        if self.use_rules and scores[OTHER] < RULES_UNLESS_OTHER:
            # Not when the model is sure the mail asks nothing: a newsletter or webinar about
            # privacy names every right ("tarkastusoikeus, siirto-oikeus...") and asks none.
            named = rules.rule_labels(subject, own)
            scores = rules.apply_rules(scores, {x for x in named if scores[x] >= RULE_FLOOR})
        reminded = (self.reminded_rights(subject, clean, scores)
                    if self.use_rules and not garbage else ())
        if reminded:
            # Even when the model reads it as ordinary mail: "I have had no answer to my request
            # of 3 October" has few request words, but it is the request again.
            scores = rules.apply_rules(scores, set(reminded))
            scores[OTHER] = min(scores[OTHER], 1 - rules.RULE_SCORE)
        if garbage:
            scores = {label: (1.0 if label == OTHER else 0.0) for label in LABELS}
        best = {label: 0.0 for label in REQUEST_LABELS}
        if not garbage and (every_sentence or sentences_may_decide(scores, self.thresholds)):
            best = self.sentence_best(subject, own)
        return Evidence(subject, clean, scores, best, garbage, reminded)

    def reminded_rights(self, subject: str, clean: CleanText,
                        scores: dict[str, float]) -> tuple[str, ...]:
        """The rights a reminder is about, to be claimed: named by article or legal name in its
        own words or in the quoted earlier request (as the rules read them: a template's list of
        articles names none); else what the model reads in that quoted
        request; else, only when the model claims no request at all, the first right its own
        words name in everyday terms ("poistopyyntö", "a copy of my data"). Empty for any
        other mail, and for a reminder that names no right ("no answer" alone is no request).
        Everyday words are trusted least: a reminder says "newsletter" or "reklam" in passing."""
        if not is_reminder(subject, clean.own[:REMINDER_CHARS]):
            return ()
        older = older_text(clean, headers=False)
        named = rules.rule_labels(subject, clean.own) or rules.rule_labels("", older)
        if named:
            return tuple(x for x in REQUEST_LABELS if x in named)
        if older:
            quoted = self.model_scores("", older)
            rights = tuple(x for x in REQUEST_LABELS if quoted[x] >= self.thresholds.threshold)
            if rights:
                return rights
        if any(scores[x] >= self.thresholds.threshold for x in REQUEST_LABELS):
            return ()
        return named_rights(f"{subject}\n{clean.own}")[0][:1]

    def classify(self, subject: str, body: str, *, from_display: str = "",
                 received: date | None = None) -> Classification:
        """`received` (default: today, UTC) dates a reminder's "3 October" to its latest year
        not after it."""
        ev = self.evidence(subject, body)
        decision = decide(ev.scores, ev.garbage, self.thresholds, ev.sentence_best)
        own = ev.clean.own
        language = self._langid.detect(f"{own}\n{ev.subject}" if len(own) < 40 else own)
        entities = _entities(ev.clean, decision.labels, from_display)
        requests = tuple(x for x in decision.labels if x != OTHER)
        own = ev.clean.own[:REMINDER_CHARS]
        earlier = earlier_request(ev.subject, own, older_text(ev.clean)[:REMINDER_CHARS],
                                  received or datetime.now(UTC).date(),
                                  fallback_rights=ev.reminded or requests,
                                  headers=ev.clean.full[:REMINDER_CHARS])
        return Classification(
            labels=decision.labels,
            scores={label: round(ev.scores[label], 4) for label in LABELS},
            language=language,
            entities=entities,
            needs_review=decision.needs_review,
            model_version=self.version,
            reasons=decision.reasons,
            possible=decision.possible,
            earlier_request=earlier,
            on_behalf_of=representation(own),
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


def classify(subject: str, body: str, *, from_display: str = "",
             received: date | None = None) -> Classification:
    """Classify one message with the committed model (see module docstring)."""
    return load_classifier().classify(subject, body, from_display=from_display,
                                      received=received)
