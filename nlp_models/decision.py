"""From scores to an answer: which requests to claim and when staff must look instead.

A missed request is a missed legal deadline, a false one wastes staff time; so when the scores
are unsure the answer says so (`needs_review`) instead of guessing. Unsure means: a request score
in the grey zone below the threshold, a request and `other` both claimed, nothing claimed at all,
or a text with nothing to judge (empty, binary, a blob of base64).

The numbers are a property of one trained model, not of the code: `dsrbot nlp train` chooses
them on out-of-fold scores of the training mail (:mod:`nlp_models.crossval`) and stores them with
the model; :data:`DEFAULT` is only for a model trained without that step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from nlp_models.labels import OTHER, REQUEST_LABELS


@dataclass(frozen=True)
class Thresholds:
    threshold: float = 0.5
    """A request scoring this much is claimed (the best one; see `secondary` for the rest)."""
    secondary: float = 0.8
    """A second (third...) request must score this much, not just `threshold`: words of one
    request leak a little weight to requests they often come with ("copy of all my data" lifts
    erasure), so a weak extra label is more often wrong than right. Such a label is kept in
    `possible`, which staff see, rather than dropped unseen."""
    review_low: float = 0.35
    """A request scored between this and `threshold` is neither claimed nor ruled out."""
    other_sure: float = 0.5
    """`other` this likely beside a claimed request is a conflict; below it with no request
    claimed, nothing is likely."""
    sentence: float = 1.01
    """An extra request is also claimed when one sentence of the mail, scored alone, reaches
    this (above 1: never) ...  A mail asking two things dilutes each request's words with the
    other's; the sentence that asks for it still says so plainly."""
    sentence_floor: float = 0.4
    """... and the whole mail scores it at least this."""
    sentence_review: float = 1.01
    """A mail that claims no request goes to staff when one of its sentences, scored alone,
    asks for one this plainly (above 1: never): a request buried in an order complaint is
    outweighed by the complaint's words, but not in its own sentence."""
    sentence_claim: float = 1.01
    """A mail that claims no request claims the one a single sentence asks for this plainly
    (above 1: never): "Poistakaa tietoni, kun tämä on selvitetty" at the end of a long order
    complaint is the request, not the complaint. Such a mail still goes to staff when `other`
    is likely too."""

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Thresholds:
        """Thresholds stored with a model; keys it does not know keep their defaults."""
        if not data:
            return DEFAULT
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in known})


DEFAULT = Thresholds()


@dataclass(frozen=True)
class Decision:
    labels: list[str]
    needs_review: bool
    reasons: list[str]
    possible: list[str]


def decide(
    scores: Mapping[str, float],
    garbage: bool,
    thresholds: Thresholds = DEFAULT,
    sentence_best: Mapping[str, float] | None = None,
) -> Decision:
    """Labels, needs_review, the reasons and the possible extra requests, from the scores.

    `sentence_best` holds, per request, the best score of any one sentence scored alone.
    """
    t = thresholds
    best = sentence_best or {}
    ranked = sorted((x for x in REQUEST_LABELS if scores[x] >= t.threshold),
                    key=lambda x: -scores[x])
    requests = ranked[:1]
    if not requests:
        asked = max(REQUEST_LABELS, key=lambda x: best.get(x, 0.0))
        if best.get(asked, 0.0) >= t.sentence_claim:
            requests = [asked]
    if requests:
        requests += [
            x for x in REQUEST_LABELS
            if x not in requests and (
                (x in ranked and scores[x] >= t.secondary)
                or (scores[x] >= t.sentence_floor and best.get(x, 0.0) >= t.sentence)
            )
        ]
        requests.sort(key=lambda x: -scores[x])
    labels = requests or [OTHER]
    reasons: list[str] = []
    if garbage:
        reasons.append("no readable text")
    if requests and scores[OTHER] >= t.other_sure:
        reasons.append("request and other both likely")
    grey = [x for x in REQUEST_LABELS
            if t.review_low <= scores[x] < t.threshold and x not in requests]
    if grey:
        reasons.append("uncertain: " + ", ".join(grey))
    if not requests and scores[OTHER] < t.other_sure:
        reasons.append("no intent is likely")
    buried = [] if requests else [
        x for x in REQUEST_LABELS if best.get(x, 0.0) >= t.sentence_review and x not in grey]
    if buried:
        reasons.append("one sentence asks: " + ", ".join(buried))
    possible = [x for x in ranked if x not in requests] + grey + buried
    return Decision(labels, bool(reasons), reasons, possible)


def sentences_may_decide(scores: Mapping[str, float], thresholds: Thresholds = DEFAULT) -> bool:
    """Whether single-sentence scores could change what :func:`decide` answers: when no request
    is claimed and `sentence_review` is on, or when one is and another scores between
    `sentence_floor` and `secondary` (the sentence rule can claim nothing else). Scoring the
    sentences costs as much again as the mail, so the classifier skips them when they cannot
    matter."""
    t = thresholds
    claimed = [x for x in REQUEST_LABELS if scores[x] >= t.threshold]
    if not claimed:
        return min(t.sentence_review, t.sentence_claim) <= 1.0
    if t.sentence > 1.0:
        return False
    top = max(claimed, key=lambda x: scores[x])
    return any(t.sentence_floor <= scores[x] < t.secondary for x in REQUEST_LABELS if x != top)
