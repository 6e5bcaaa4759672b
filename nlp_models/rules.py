"""Unmistakable phrasings that name a right outright.

"Tarkastuspyyntö", "right to be forgotten", "GDPR article 17", "postitustarra": when a sender
uses the legal name of a right, no statistics are needed. Each rule raises its label's score to
at least `RULE_SCORE`; it never lowers a score and never removes a label, so the model still
finds the requests written in everyday words. The patterns run on folded text (lower case, no
diacritics), so they match with or without "ä".

GDPR article numbers name rights too (15 access, 16 rectification, 17 erasure, 18 restriction,
20 portability, 21(1) objection, 21(2)-(3) the marketing ban), but template letters list them in
boilerplate ("under Articles 15, 17 and 20 you must answer within a month") while the sender asks
for one thing. So an article counts only when it is the only right a mail names by article, or
when it stands alone in a sentence that asks ("I request, under Article 15, ...") and does not
describe duties or rights in general (:mod:`nlp_models.articles`).

Whether the rules help is measured, not assumed: `dsrbot nlp evaluate` reports both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from nlp_models.anyof import AnyOf
from nlp_models.articles import asked_rights, named_rights, not_asked, recites, sentences_of
from nlp_models.features import strip_reply_prefix
from nlp_models.preprocess import fold

RULE_SCORE = 0.9

_RULES: Mapping[str, tuple[str, ...]] = {
    "access": (
        r"\btarkastuspyyn", r"\btarkastusoikeu", r"\bsubject access request",
        r"\bright of access\b",
        r"\bregisterutdrag", r"\bdata subject access", r"\bratt(?:en)? till tillgang",
        r"\boikeus saada paasy",
    ),
    "rectification": (
        r"\boikaisupyyn", r"\bright to rectification", r"\brectification of\b",
        r"\btietojen oikaisemi", r"\brattelse av\b",
    ),
    "erasure": (
        r"\bright to be forgotten", r"\btulla (?:kokonaan )?unohdetuksi", r"\bbli bortglomd",
        r"\bright to erasure", r"\boikeus tietojen poistamiseen", r"\bratt(?:en)? till radering",
    ),
    "restriction": (
        r"\brestriction of (?:the )?processing", r"\bkasittelyn rajoittami",
        r"\bbegransning av (?:behandling|personuppgifts)",
    ),
    "objection": (
        r"\bright to object\b", r"\bvastustamisoikeu", r"\binvandningsratt",
    ),
    "marketing_optout": (
        r"\bsuoramarkkinointikiel", r"\bmarkkinointikiel", r"\bpuhelinmyyntikiel",
        r"\bsuoramainontakiel", r"\bdirektreklamforbud", r"\bmarknadsforingsforbud",
        r"\bdo not call list",
    ),
    "publication_ban": (
        r"\bpostitustarr", r"\bosoitetarr", r"\bluovutuskiel", r"\bjulkaisukiel",
        r"\bmailing labels?\b", r"\badressetikett",
    ),
    "portability": (
        r"\bdata portability", r"\bsiirto-?oikeu", r"\bsiirrettavyy", r"\bdataportabilitet",
        r"\bmachine[- ]readable", r"\bkoneluettava", r"\bmaskinlasbar",
    ),
}
_COMPILED: Mapping[str, re.Pattern[str]] = {
    label: re.compile("|".join(f"(?:{p})" for p in patterns)) for label, patterns in _RULES.items()
}


_ANY_LEGAL_NAME = AnyOf("|".join(p for patterns in _RULES.values() for p in patterns))
"""Whether any right's pattern matches: most sentences name no right, and one search tells so
instead of one per right (as :class:`~nlp_models.anyof.AnyOf`: all of them start a word)."""


def legal_names(folded: str) -> set[str]:
    """Labels whose right is named by its legal name in folded text (no article numbers)."""
    if not _ANY_LEGAL_NAME.search(folded):
        return set()
    return {label for label, pattern in _COMPILED.items() if pattern.search(folded)}


def legal_name_spans(folded: str) -> list[tuple[str, int, int]]:
    """(label, start, end) of the first legal name of each right in folded text, in order."""
    spans = [(label, m.start(), m.end()) for label, pattern in _COMPILED.items()
             for m in [pattern.search(folded)] if m]
    return sorted(spans, key=lambda x: x[1])


def rule_labels(subject: str, text: str) -> set[str]:
    """Labels whose unmistakable phrasing occurs in the subject or the sender's own text."""
    subject, is_reply = strip_reply_prefix(subject)
    if is_reply:
        subject = ""  # inherited from the mail answered ("SV: Ditt registerutdrag")
    folded_subject, folded_text = fold(subject), fold(text[:20_000])
    return (asked_legal_names(folded_subject, folded_text)
            | asked_rights(folded_subject, folded_text))


RECITAL_RIGHTS = 3
"""A sentence naming this many rights by their legal names recites them ("the right of access,
the right to rectification, the right to erasure...")."""


def asked_legal_names(folded_subject: str, folded_text: str) -> set[str]:
    """Rights named by their legal names that the sender asks for. A template or a lawyer's
    letter recites the rights ("rekisteröidyllä on muun muassa oikeus saada pääsy tietoihin,
    oikeus tietojen oikaisemiseen...", "bland annat rätt till tillgång, rättelse, radering")
    before asking for one: a legal name counts when it is in the subject, when it is the only
    right the mail names (by name or article) and is not said to be unasked, or when its
    sentence does not recite rights (:func:`nlp_models.articles.recites`) nor list three or
    more of them."""
    found = legal_names(folded_subject)
    if not _ANY_LEGAL_NAME.search(folded_text):
        # No sentence can name one either (a sentence is a run of the text between separators
        # none of the patterns reads), so nothing else is found.
        return found
    per_sentence = [(legal_names(s), s) for s in sentences_of(folded_text)]
    named = set().union(*(names for names, _ in per_sentence)) if per_sentence else set()
    only = len(named | named_rights(folded_text) | found) == 1
    for names, sentence in per_sentence:
        if not names or not_asked(sentence):
            continue
        if only or (len(names) < RECITAL_RIGHTS and not recites(sentence)):
            found |= names
    return found


def apply_rules(scores: Mapping[str, float], labels: set[str]) -> dict[str, float]:
    """Raise the score of each rule label to at least RULE_SCORE."""
    out = dict(scores)
    for label in labels:
        out[label] = max(out.get(label, 0.0), RULE_SCORE)
    return out
