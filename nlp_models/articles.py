"""GDPR article numbers mapped to the rights they grant, weighed against what the sender asks.

Article 15 is access, 16 rectification, 17 erasure, 18 restriction, 20 portability, 21(1) the
objection and 21(2)-(3) the objection to direct marketing (our marketing ban). A sender who names
one of them asks for that right, nearly always. But template letters recite them: "under Articles
15, 17 and 20 you must answer within one month", "Article 15 gives me the right to a copy..."
while the sender asks for one thing. Labelling every article a template names is the
over-labelling of access and portability that strangers' mail showed.

So an article counts (:func:`asked_rights`) when
- it is the only right the mail names by article (a subject "GDPR art. 15" or a one-article
  letter: there is nothing to weigh), or
- it stands on its own (not in a list "15, 17 and 20" or a range "15-22") in a sentence that
  asks ("I request", "pyydän", "jag begär", "please") and does not describe duties or rights in
  general ("you must", "on oikeus", "har rätt", "including"), unless that sentence also asks in
  the first person, nor says it is not asked for now ("I am not requesting erasure under
  Article 17", "joihin en vetoa", "which I reserve").

All patterns run on folded text (lower case, no diacritics; :func:`nlp_models.preprocess.fold`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ARTICLE_RIGHTS: dict[int, str] = {
    15: "access", 16: "rectification", 17: "erasure", 18: "restriction", 20: "portability",
    21: "objection",
}
"""Article -> label; 21 with paragraph 2 or 3 is `marketing_optout` (:func:`_right`)."""

_HEAD = r"art(?:ikla\w*|icles?|ikel\w*|iklar\w*|\.)?"
def _paragraph(name: str) -> str:
    """The paragraph after the number: "21(2)", "21.2", "21 artiklan 2 kohdan", "21 art. 3 mom."
    (groups `name` and `name`x, one pattern may hold it twice)."""
    return (rf"(?:\s*[.(]\s*(?P<{name}>\d)\b"
            rf"|\s*(?:n|\.)?\s*(?P<{name}x>\d)\.?\s*(?:kohd|mom|punkt|para))")


_SINGLE = re.compile(
    rf"\b{_HEAD}\s*(?P<a>\d{{1,2}})(?!\d)(?:{_paragraph('pa')})?"
    rf"|\b(?P<b>\d{{1,2}})(?!\d)\s*\.?\s*art(?:ikla\w*|\.|\b)\w*\.?(?:{_paragraph('pb')})?"
)
_SEP = r"\s*(?:,|&|/|-|–|\band\b|\bor\b|\bja\b|\btai\b|\bseka\b|\boch\b|\beller\b)\s*"
_NUMBER = r"\d{1,2}(?:\s*\(\s*\d\s*\))?"
_LIST = re.compile(
    rf"\b{_HEAD}\s*(?P<x>{_NUMBER}(?:{_SEP}{_NUMBER})+)"
    rf"|\b(?P<y>{_NUMBER}(?:{_SEP}{_NUMBER})+)\s*\.?\s*art"
)
_RANGE = re.compile(r"(\d{1,2})\s*[-–]\s*(\d{1,2})")

_SENTENCE = re.compile(r"[!?;\n]+|(?<=[a-z]{3}\.)(?<!art\.)\s+|(?<=[)\d]\.)\s+(?=[a-z])")
_ASK = re.compile(
    r"\b(?:i|we|my client|the client)\s+(?:hereby\s+|therefore\s+|also\s+|now\s+)?"
    r"(?:request|ask|want|wish|would like|demand|require|exercise|object|invoke|expect)"
    r"|\bplease\b|\bkindly\b|\bhereby\b|\brequest\b|\brequesting\b"
    r"|\bpyyd(?:an|amme|etaan)\b|\bpyynt|\bvaadi(?:n|mme)\b|\bvaatimu|\bhalua(?:n|isin|mme)\b"
    r"|\btoivo(?:n|mme)\b|\bkayta(?:n|mme)\b|\bkiella(?:n|mme)\b|\bvastustan\b|\bnojalla pyyd"
    r"|\bjag\s+(?:harmed\s+)?(?:begar|ber|vill|kraver|onskar|utovar|invander|yrkar)"
    r"|\bvi\s+(?:begar|ber|vill|kraver)\b|\bbegaran\b|\bharmed\b"
)
_FIRST_PERSON_ASK = re.compile(
    r"\b(?:i|we|my client)\s+(?:hereby\s+|therefore\s+)?(?:request|ask|demand|exercise|object)"
    r"|\bpyyd(?:an|amme)\b|\bvaadi(?:n|mme)\b|\bjag\s+(?:harmed\s+)?(?:begar|ber|kraver)"
    r"|\bplease\b"
)
_BOILERPLATE = re.compile(
    r"\byou (?:must|shall|are (?:obliged|required|obligated|bound))|\bobligat|\bduty\b"
    r"|\b(?:has|have|gives?|grants?) (?:\w+ )?(?:the )?rights?\b|\brights? (?:under|to lodge)"
    r"|\bincluding\b|\bsuch as\b|\be\.g\.|\bamong others\b|\bfor example\b"
    r"|\bvelvollis|\bvelvoittaa\b|\bon oikeus\b|\boikeuksi|\bmukaan lukien\b|\bkuten\b|\besim\b"
    r"|\bskyldig|\bhar (?:\w+ )?ratt\b|\brattighet|\bbland annat\b|\bsasom\b|\bt\.ex\b"
    r"|\binklusive\b|\bex\.\s"
)

_NOT_ASKING = re.compile(
    r"\bnot (?:\w+ ){0,4}(?:request|ask|seek|invok|exercis|need|want)\w*"
    r"|\b(?:i|we) (?:also )?reserve\b"
    r"|\b(?:en|emme) (?:\w+ ){0,4}(?:veto|pyyd|vaadi|tarvits|kayt|hae)\w*|\bvaraa(?:n|mme)\b"
    r"|\b(?:inte|ej) (?:\w+ ){0,4}(?:begar|aberop|utnyttj|utova|behov|ber om)\w*"
    r"|\bbegar (?:jag |vi )?(?:inte|ej)\b|\bforbehall\w*"
)
"""A sentence that names a right to say it is not asked for now ("I am not at this stage
requesting erasure under Article 17", "joihin en tässä vaiheessa vetoa", "which I reserve")."""


def not_asked(sentence: str) -> bool:
    """Whether a folded sentence says the rights it names are not asked for now."""
    return bool(_NOT_ASKING.search(sentence))


def recites(sentence: str) -> bool:
    """Whether a folded sentence names rights without asking for them: it describes rights or
    duties in general ("on oikeus", "including") and does not ask in the first person, or it
    says the right is not asked for (:data:`_NOT_ASKING`)."""
    if not_asked(sentence):
        return True
    return bool(_BOILERPLATE.search(sentence)) and not _FIRST_PERSON_ASK.search(sentence)


def sentences_of(folded: str) -> list[str]:
    """The sentences of folded text as the article rules split them (an "Art." does not end
    one)."""
    return [s for s in _SENTENCE.split(folded) if s.strip()]


def _right(article: int, paragraph: str | None) -> str | None:
    if article == 21 and paragraph in ("2", "3"):
        return "marketing_optout"
    return ARTICLE_RIGHTS.get(article)


def _numbers(listed: str) -> Iterable[tuple[int, str | None]]:
    """'15, 17 ja 20' -> 15, 17, 20; a range '15-22' -> 15..22; '21(2)' keeps its paragraph."""
    for low, high in _RANGE.findall(listed):
        if int(low) < int(high) <= int(low) + 10:
            yield from ((n, None) for n in range(int(low), int(high) + 1))
    for m in re.finditer(r"(\d{1,2})(?:\s*\(\s*(\d)\s*\))?", _RANGE.sub(" ", listed)):
        yield int(m.group(1)), m.group(2)


def _sentence_rights(sentence: str) -> tuple[set[str], set[str]]:
    """(rights named on their own, rights named in a list or range) in one sentence."""
    listed: set[str] = set()
    spans: list[tuple[int, int]] = []
    for m in _LIST.finditer(sentence):
        spans.append(m.span())
        for number, paragraph in _numbers(m.group("x") or m.group("y")):
            right = _right(number, paragraph)
            if right:
                listed.add(right)
    alone: set[str] = set()
    for m in _SINGLE.finditer(sentence):
        if any(s <= m.start() < e for s, e in spans):
            continue
        paragraph = m.group("pa") or m.group("pax") or m.group("pb") or m.group("pbx")
        right = _right(int(m.group("a") or m.group("b")), paragraph)
        if right:
            alone.add(right)
    return alone, listed


def named_rights(folded: str) -> set[str]:
    """Every right the text names by article number, asked for or not."""
    found: set[str] = set()
    for sentence in _SENTENCE.split(folded):
        alone, listed = _sentence_rights(sentence)
        found |= alone | listed
    return found


_ANY_ARTICLE = re.compile(r"\bart(?:ikla|icle|ikel|iklar|\.)?\w*\s*\d|\d\s*\.?\s*art(?:ikla|\.|\b)")
"""A cheap first look: most mail names no article at all."""


def asked_rights(folded_subject: str, folded_text: str) -> set[str]:
    """The rights named by article that the sender asks for (see the module docstring)."""
    if not any("art" in s and _ANY_ARTICLE.search(s) for s in (folded_subject, folded_text)):
        return set()  # (each way of naming an article has "art": no need to read most mail)
    per_sentence = [
        (*_sentence_rights(s), s)
        for s in [folded_subject, *_SENTENCE.split(folded_text)] if s.strip()
    ]
    named = set().union(*(alone | listed for alone, listed, _ in per_sentence))
    if len(named) == 1:
        return named
    asked: set[str] = set()
    for alone, _, sentence in per_sentence:
        if alone and _ASK.search(sentence) and not recites(sentence):
            asked |= alone
    return asked


def article_mentions(folded: str) -> list[tuple[str, int, int]]:
    """(right, start, end) of each article named on its own, in the order of the text; when
    none is, of each right in a list or range ("Articles 15 and 17"; the span covers the list).
    """
    out: list[tuple[str, int, int]] = []
    lists = [(m, m.span()) for m in _LIST.finditer(folded)]
    for m in _SINGLE.finditer(folded):
        if any(s <= m.start() < e for _, (s, e) in lists):
            continue
        paragraph = m.group("pa") or m.group("pax") or m.group("pb") or m.group("pbx")
        right = _right(int(m.group("a") or m.group("b")), paragraph)
        if right:
            out.append((right, m.start(), m.end()))
    if out:
        return out
    for m, (start, end) in lists:
        for number, paragraph in _numbers(m.group("x") or m.group("y")):
            right = _right(number, paragraph)
            if right:
                out.append((right, start, end))
    return sorted(out, key=lambda x: x[1])
