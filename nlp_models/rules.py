"""Unmistakable phrasings that name a right outright.

"Tarkastuspyyntö", "right to be forgotten", "GDPR article 17", "postitustarra": when a sender
uses the legal name of a right, no statistics are needed. Each rule raises its label's score to
at least `RULE_SCORE`; it never lowers a score and never removes a label, so the model still
finds the requests written in everyday words. The patterns run on folded text (lower case, no
diacritics), so they match with or without "ä".

Whether the rules help is measured, not assumed: `dsrbot nlp evaluate` reports both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from nlp_models.features import strip_reply_prefix
from nlp_models.preprocess import fold

RULE_SCORE = 0.9

def _article(number: str, tail: str = "") -> str:
    """'art. 15', 'article 15(1)', 'artikla 15', '15 art.' (and `tail` after it)."""
    return (
        rf"(?:\bart(?:ikla|iklan|icle|ikel|\.)?\s*{number}(?!\d){tail}"
        rf"|\b{number}(?!\d)\s*\.?\s*art(?:ikla|iklan|\.|\b){tail})"
    )


# Article 21(2)-(3) is the objection to direct marketing: the marketing ban, not `objection`.
_PARAGRAPH_2_3 = r"\s*(?:[.(]\s*[23]|(?:n|\.)?\s*[23]\.?\s*(?:kohd|mom|punkt|para))"
_NOT_DIRECT_MARKETING = rf"(?!{_PARAGRAPH_2_3})"
_ARTICLE_21_2 = (
    rf"\bart(?:ikla|iklan|icle|ikel|\.)?\s*21{_PARAGRAPH_2_3}",
    rf"\b21\s*\.?\s*art\w*\.?{_PARAGRAPH_2_3}",
    r"\b21\s*[.(]\s*[23]\)?\s*art",
)


_RULES: Mapping[str, tuple[str, ...]] = {
    "access": (
        r"\btarkastuspyyn", r"\btarkastusoikeu", r"\bsubject access request",
        r"\bright of access\b",
        r"\bregisterutdrag", r"\bdata subject access", r"\bratt(?:en)? till tillgang",
        r"\boikeus saada paasy", _article("15"),
    ),
    "rectification": (
        r"\boikaisupyyn", r"\bright to rectification", r"\brectification of\b",
        r"\btietojen oikaisemi", r"\brattelse av\b", _article("16"),
    ),
    "erasure": (
        r"\bright to be forgotten", r"\btulla (?:kokonaan )?unohdetuksi", r"\bbli bortglomd",
        r"\bright to erasure", r"\boikeus tietojen poistamiseen", r"\bratt(?:en)? till radering",
        _article("17"),
    ),
    "restriction": (
        r"\brestriction of (?:the )?processing", r"\bkasittelyn rajoittami",
        r"\bbegransning av (?:behandling|personuppgifts)", _article("18"),
    ),
    "objection": (
        r"\bright to object\b", r"\bvastustamisoikeu", r"\binvandningsratt",
        _article("21", _NOT_DIRECT_MARKETING),
    ),
    "marketing_optout": (
        r"\bsuoramarkkinointikiel", r"\bmarkkinointikiel", r"\bpuhelinmyyntikiel",
        r"\bsuoramainontakiel", r"\bdirektreklamforbud", r"\bmarknadsforingsforbud",
        r"\bdo not call list", *_ARTICLE_21_2,
    ),
    "publication_ban": (
        r"\bpostitustarr", r"\bosoitetarr", r"\bluovutuskiel", r"\bjulkaisukiel",
        r"\bmailing labels?\b", r"\badressetikett",
    ),
    "portability": (
        r"\bdata portability", r"\bsiirto-?oikeu", r"\bsiirrettavyy", r"\bdataportabilitet",
        r"\bmachine[- ]readable", r"\bkoneluettava", r"\bmaskinlasbar", _article("20"),
    ),
}
_COMPILED: Mapping[str, re.Pattern[str]] = {
    label: re.compile("|".join(f"(?:{p})" for p in patterns)) for label, patterns in _RULES.items()
}


def rule_labels(subject: str, text: str) -> set[str]:
    """Labels whose unmistakable phrasing occurs in the subject or the sender's own text."""
    subject, is_reply = strip_reply_prefix(subject)
    if is_reply:
        subject = ""  # inherited from the mail answered ("SV: Ditt registerutdrag")
    folded = fold(f"{subject}\n{text[:20_000]}")
    return {
        label for label, pattern in _COMPILED.items() if pattern.search(folded)
    }


def apply_rules(scores: Mapping[str, float], labels: set[str]) -> dict[str, float]:
    """Raise the score of each rule label to at least RULE_SCORE."""
    out = dict(scores)
    for label in labels:
        out[label] = max(out.get(label, 0.0), RULE_SCORE)
    return out
