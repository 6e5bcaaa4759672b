"""`on_behalf_of`: the sender writes for someone else (a lawyer for a client, a relative with a
power of attorney, a guardian), and whom.

The request is then the represented person's, and staff must see the authority (valtakirja,
fullmakt, power of attorney) before acting on it, so the intake needs to know. A colleague
forwarding a customer's own request is not a representative: only words of representation in
the sender's own text count ("on behalf of my client", "päämieheni puolesta", "valtakirja",
"fullmakt", "för min mors räkning", "edunvalvoja", "god man").

The person's name is taken when the words around the cue give one ("on behalf of my client,
Anna Berg", "Matti Virtasen puolesta", "för Karin Lindbergs räkning"). Finnish and Swedish put
it in the genitive; the nominative is guessed for the last name ("Virtasen" -> "Virtanen",
"Lindbergs" -> "Lindberg") and `text` keeps the words as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlp_models.preprocess import fold_aligned

_CUE = re.compile(
    r"\bon behalf of\b|\bacting (?:for|on behalf)\b|\bi represent\b|\bwe represent\b"
    r"|\bmy client\b|\bour client\b|\bpower of attorney\b|\blegal guardian\b|\bguardian of\b"
    r"|\bas (?:his|her|their) (?:guardian|representative|attorney|lawyer|solicitor)\b"
    r"|\bpaamie(?:he|s)\w*|\bpuolesta\b|\bvaltakirja\w*|\bedunvalvoja\w*|\bedustamani\w*"
    r"|\bedustan\b|\btoimeksiannosta\b|\basiamie\w*"
    r"|\bfullmakt\w*|\bpa uppdrag av\b|\bfor \w+ rakning\b|\bfor (?:min|mitt|mina|var) \w+ \w*"
    r"\s?rakning\b|\bs? rakning\b|\ba (?:min|mina|var|\w+s) vagnar\b|\bforetrad\w*|\bforetrader\b"
    r"|\bmin klient\b|\bmin huvudman\b|\bgod man\b|\bforvaltare\b|\bvardnadshavare\b"
)
_NOT_FOR_A_PERSON = re.compile(
    r"\b(?:on behalf of|puolesta|pa uppdrag av|vagnar)\b.{0,40}\b(?:rusttet|company|firm|team|"
    r"yrity|yhtio|foretag|bolag|oy|ab|ltd|inc|organi)"
    r"|\b(?:asiakka\w*|kunde\w*|(?:the|a|our) customer'?s?)\s+(?:puolesta|vagnar|rakning)\b"
    r"|\bon behalf of (?:a|the|our) customer\b", re.S,
)
"""A company's name under its employee's signature, or a colleague passing on a customer's
call ("asiakkaan puolesta"), is no representation of a data subject."""
_NAME_WORD = r"[A-ZÅÄÖ][a-zåäöéü'-]+"
_NAME = rf"{_NAME_WORD}(?:\s{_NAME_WORD}){{0,2}}"
_RELATION = (r"(?:my |our )?(?:client|mother|father|son|daughter|wife|husband|aunt|uncle|"
             r"grandmother|grandfather|brother|sister|ward)")
_NAMED = (
    re.compile(rf"\b(?i:on behalf of),? (?i:{_RELATION},?\s)?(?:(?:Mr|Mrs|Ms|Dr)\.?\s)?"
               rf"(?P<name>{_NAME})"),
    re.compile(rf"\b(?:client|päämies|päämieheni|asiakkaani|klient|huvudman)(?:\s*:)?,?\s"
               rf"(?P<name>{_NAME})"),
    re.compile(rf"(?P<name>{_NAME})\s(?:puolesta|räkning|vägnar)\b"),
    re.compile(rf"\b(?:(?:äitini|isäni|poikani|tyttäreni|vaimoni|mieheni|päämieheni)"
               rf"|(?:min|mitt) \w+s),?\s(?P<name>{_NAME}),?\s(?:puolesta|räkning)"),
)
_NOT_A_NAME = frozenset({
    "Rusttet", "Oy", "Ab", "Hei", "Hello", "Dear", "Tietosuoja", "Gdpr", "Artikla", "Article",
})
_ROLE_WORDS = frozenset(
    "päämieheni päämiehemme päämiehen asiakkaani asiakkaamme äitini isäni poikani tyttäreni "
    "vaimoni mieheni veljeni siskoni isoäitini mummoni client klient min mitt mr mrs ms dr"
    .split()
)
"""Capitalised at a sentence start ("Päämieheni Matti Virtasen puolesta"), not the name."""


@dataclass(frozen=True)
class OnBehalfOf:
    """The sender acts for another person."""

    text: str
    """The words that say so, as written ("päämieheni Matti Virtasen puolesta")."""
    person: str | None
    """The represented person's name (nominative guessed), when given."""


def _nominative(name: str) -> str:
    """'Matti Virtasen' -> 'Matti Virtanen', 'Karin Lindbergs' -> 'Karin Lindberg': in Finnish and
    Swedish only the last word of a name is inflected."""
    *first, last = name.split()
    if last.endswith("sen"):
        last = last[:-3] + "nen"
    elif last.endswith("een"):
        last = last[:-2]
    elif len(last) > 3 and (
            (last[-1] == "n" and last[-2] in "aeiouyäö")  # Mäkelän, Salon
            or (last[-1] == "s" and not last.endswith(("ss", "us", "as")))):  # Lindbergs
        last = last[:-1]
    return " ".join([*first, last])


_CUE_WORDS = (
    "behalf", "acting", "represent", "client", "attorney", "guardian", "lawyer", "solicitor",
    "paamie",
    "puolesta", "valtakirj", "edunvalv", "edusta", "toimeksian", "asiamie", "fullmakt",
    "uppdrag", "rakning", "vagnar", "foretra", "klient", "huvudman", "god man", "forvaltare",
    "vardnadshav",
)
"""Without one of these no cue can match; most mail has none (a cheap check first)."""


def representation(own: str) -> OnBehalfOf | None:
    """Whom the sender writes for, from the sender's own words; None when for themselves."""
    folded = fold_aligned(own)
    if not any(word in folded for word in _CUE_WORDS):
        return None
    cue = _CUE.search(folded)
    if cue is None or _NOT_FOR_A_PERSON.search(folded[max(0, cue.start() - 60):cue.end() + 60]):
        return None
    window_start, window_end = max(0, cue.start() - 60), min(len(own), cue.end() + 80)
    window = own[window_start:window_end]
    for pattern in _NAMED:
        for m in pattern.finditer(window):
            words = m.group("name").split()
            while words and words[0].lower().rstrip(".") in _ROLE_WORDS:
                words.pop(0)
            if not words or words[0] in _NOT_A_NAME:
                continue
            name = " ".join(words)
            after = window[m.end("name"):]
            inflected = re.match(r",?\s(?:puolesta|räkning|vägnar)\b", after) is not None
            person = _nominative(name) if inflected else name
            return OnBehalfOf(text=window[m.start():m.end()].strip(), person=person)
    line_end = own.find("\n", cue.end())
    sentence = own[cue.start():line_end if line_end >= 0 else len(own)]
    return OnBehalfOf(text=sentence[:120].strip(), person=None)
