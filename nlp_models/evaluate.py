"""Score the classifier on labelled mail: the figures the targets are stated in.

A missed request is the costly error (a legal deadline nobody sees), so it is counted on its
own: a mail that asks for something but comes back as only `other` without `needs_review`.
A request flagged for review is not missed: staff will read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nlp_models.classifier import Classification, Classifier
from nlp_models.corpus import Example
from nlp_models.dates import find_dates
from nlp_models.labels import LABELS, OTHER
from nlp_models.preprocess import fold


@dataclass(frozen=True)
class Scored:
    example: Example
    result: Classification


def classify_all(classifier: Classifier, examples: Sequence[Example]) -> list[Scored]:
    return [Scored(e, classifier.classify(e.subject, e.body)) for e in examples]


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "support": tp + fn}


def _norm_value(field: str, value: str) -> str:
    text = " ".join(value.replace("\n", " ").split()).strip(" .,;'\"")
    if field == "phone":
        import phonenumbers

        try:
            number = phonenumbers.parse(text, "FI")
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return text
    if field in ("www",):
        text = text.lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    return fold(text).replace(" ,", ",")


def rectification_accuracy(scored: Sequence[Scored]) -> dict[str, Any]:
    """How often the field, and field plus new value, match the corpus's `expect`."""
    total = field_ok = value_ok = 0
    misses: list[str] = []
    for s in scored:
        expect = s.example.expect
        if not expect.get("field"):
            continue
        total += 1
        found = next((e for e in s.result.entities if e.label == "rectification"), None)
        if found is not None and found.field == expect["field"]:
            field_ok += 1
            if _norm_value(expect["field"], found.value or "") == _norm_value(
                    expect["field"], expect.get("new_value", "")):
                value_ok += 1
                continue
        misses.append(s.example.id)
    return {
        "examples": total,
        "field_accuracy": round(field_ok / total, 4) if total else None,
        "value_accuracy": round(value_ok / total, 4) if total else None,
        "misses": misses,
    }


def _same_date(gold: str | None, found_text: str | None, found_iso: str | None) -> bool:
    """The writer's date as written against the one found: the same words, or the same day."""
    if gold is None or found_text is None:
        return gold is None and found_text is None
    if " ".join(fold(gold).split()).strip(" .,") == " ".join(fold(found_text).split()).strip(" .,"):
        return True
    today = datetime.now(UTC).date()
    parsed = [d.iso for d in find_dates(gold, today) if d.iso]
    return found_iso is not None and parsed[:1] == [found_iso]


def earlier_request_accuracy(scored: Sequence[Scored]) -> dict[str, Any]:
    """On mails whose corpus line carries `reminder`: how often the earlier request is found,
    with the right and the date the writer meant; and how often one is found on other mail."""
    total = found = right_ok = date_ok = both_ok = spurious = others = 0
    misses: list[str] = []
    for s in scored:
        gold, got = s.example.reminder, s.result.earlier_request
        if gold is None:
            others += 1
            spurious += got is not None
            continue
        total += 1
        if got is None:
            misses.append(s.example.id)
            continue
        found += 1
        right = bool(set(got.rights) & set(gold.rights))
        when = _same_date(gold.date, got.date_text, got.date)
        right_ok += right
        date_ok += when
        both_ok += right and when
        if not (right and when):
            misses.append(s.example.id)

    def rate(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    return {"examples": total, "found": rate(found, total), "right": rate(right_ok, total),
            "date": rate(date_ok, total), "right_and_date": rate(both_ok, total),
            "found_on_other_mail": rate(spurious, others), "misses": misses}


def on_behalf_of_accuracy(scored: Sequence[Scored]) -> dict[str, Any]:
    """Precision and recall of `on_behalf_of` against the corpus flag."""
    tp = sum(1 for s in scored if s.example.on_behalf_of and s.result.on_behalf_of)
    fp = sum(1 for s in scored if not s.example.on_behalf_of and s.result.on_behalf_of)
    fn = sum(1 for s in scored if s.example.on_behalf_of and not s.result.on_behalf_of)
    return _prf(tp, fp, fn)


def evaluate(scored: Sequence[Scored]) -> dict[str, Any]:
    """Per-label P/R/F1, macro-F1, missed requests, review rate, language accuracy, confusions."""
    counts = {label: [0, 0, 0] for label in LABELS}  # tp, fp, fn
    confusion: Counter[str] = Counter()
    missed: list[str] = []
    exact = reviewed = lang_ok = lang_total = requests = 0
    for s in scored:
        gold = set(s.example.labels)
        pred = set(s.result.labels)
        for label in LABELS:
            if label in gold and label in pred:
                counts[label][0] += 1
            elif label in pred:
                counts[label][1] += 1
            elif label in gold:
                counts[label][2] += 1
        for g in sorted(gold - pred):
            for p in sorted(pred - gold) or ["(none)"]:
                confusion[f"{g} -> {p}"] += 1
        exact += gold == pred
        reviewed += s.result.needs_review
        if gold - {OTHER}:
            requests += 1
            if pred == {OTHER} and not s.result.needs_review:
                missed.append(s.example.id)
        if s.example.lang:
            lang_total += 1
            lang_ok += s.result.language == s.example.lang
    per_label = {label: _prf(*counts[label]) for label in LABELS}
    n = len(scored)
    return {
        "examples": n,
        "per_label": per_label,
        "macro_f1": round(sum(v["f1"] for v in per_label.values()) / len(LABELS), 4),
        "exact_match": round(exact / n, 4) if n else 0.0,
        "missed_request_rate": round(len(missed) / requests, 4) if requests else 0.0,
        "missed_requests": missed,
        "review_rate": round(reviewed / n, 4) if n else 0.0,
        "language_accuracy": round(lang_ok / lang_total, 4) if lang_total else None,
        "confusion_pairs": dict(confusion.most_common(15)),
        "rectification": rectification_accuracy(scored),
        "earlier_request": earlier_request_accuracy(scored),
        "on_behalf_of": on_behalf_of_accuracy(scored),
    }


def format_report(report: dict[str, Any], title: str = "") -> str:
    """A human-readable table of `evaluate`'s result."""
    lines = [title] if title else []
    lines.append(f"{'label':18} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>5}")
    for label, v in report["per_label"].items():
        lines.append(f"{label:18} {v['precision']:6.3f} {v['recall']:6.3f} {v['f1']:6.3f} "
                     f"{v['support']:5d}")
    lines.append(f"macro-F1 {report['macro_f1']:.4f}   exact match {report['exact_match']:.4f}")
    lines.append(f"missed requests {report['missed_request_rate']:.2%} "
                 f"({len(report['missed_requests'])})   review rate {report['review_rate']:.2%}")
    if report["language_accuracy"] is not None:
        lines.append(f"language accuracy {report['language_accuracy']:.4f}")
    rect = report["rectification"]
    if rect["examples"]:
        lines.append(f"rectification: field {rect['field_accuracy']:.2%}, field+value "
                     f"{rect['value_accuracy']:.2%} of {rect['examples']}")
    early = report["earlier_request"]
    if early["examples"]:
        lines.append(f"earlier_request on {early['examples']} reminders: found "
                     f"{early['found']:.2%}, right {early['right']:.2%}, "
                     f"date {early['date']:.2%}, both "
                     f"{early['right_and_date']:.2%}; found on other mail "
                     f"{early['found_on_other_mail'] or 0:.2%}")
    behalf = report["on_behalf_of"]
    if behalf["support"]:
        lines.append(f"on_behalf_of: precision {behalf['precision']:.2%}, recall "
                     f"{behalf['recall']:.2%} of {behalf['support']}")
    if report["confusion_pairs"]:
        lines.append("confusions (gold -> predicted):")
        lines.extend(f"  {pair}: {count}" for pair, count in report["confusion_pairs"].items())
    return "\n".join(lines)
