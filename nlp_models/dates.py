"""Dates as people write them in fi/en/sv mail, with the raw text kept.

"3.10.2026", "3.10.", "2026-10-03", "2026/10/03", "3 October", "October 3rd, 2026", "12th of Sept",
"3. lokakuuta", "lokakuun 3. päivänä", "3 päivänä lokakuuta", "lokak. 3", "den 5 oktober",
"5 okt." and a month alone ("in October",
"syyskuussa", "i september"). A day and a month give an ISO date; a missing year is the most
recent one that puts the date on or before `today` (a reminder names a past request). A month
alone, or a relative phrase ("last month", "viime kuun alussa"), gives no ISO date.

Numbers are read day first (Finnish and Swedish custom, and the company is Finnish), except
"01/15/2025", which only an American reading makes a date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from nlp_models.preprocess import fold_aligned

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate((
    "january jan tammikuu tammi januari", "february feb helmikuu helmi februari",
    "march mar maaliskuu maalis mars", "april apr huhtikuu huhti",
    "may toukokuu touko maj", "june jun kesakuu kesa juni", "july jul heinakuu heina juli",
    "august aug elokuu elo augusti", "september sep sept syyskuu syys",
    "october oct lokakuu loka oktober okt", "november nov marraskuu marras",
    "december dec joulukuu joulu",
), start=1):
    for _name in _names.split():
        _MONTHS[_name] = _number

_FI_MONTH = (r"(?:tammi|helmi|maalis|huhti|touko|kesa|heina|elo|syys|loka|marras|joulu)"
             r"(?:kuu\w*|k\b\.?)")
_EN_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november"
             r"|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b\.?")
_SV_MONTH = (r"(?:januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november"
             r"|december|okt)\b\.?")
_MONTH = rf"(?P<month>{_FI_MONTH}|{_SV_MONTH}|{_EN_MONTH})"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_ORDINAL = r"(?:st|nd|rd|th|:e|:a|\.)?"

_PATTERNS = (
    # 2026-10-03, 2026/10/03
    re.compile(r"(?<![\d.])(?P<year>(?:19|20)\d{2})(?P<ysep>[-/])(?P<m>\d{1,2})(?P=ysep)"
               r"(?P<day>\d{1,2})(?!\d)"),
    # 3.10.2026, 3.10.26, 3/10/2026, 24-08-2026, 3.10.; "3.10", "22/9" only where no price,
    # measure or decimal can be meant (no currency or unit after it, no digit or sign before).
    re.compile(r"(?<![\d.,])(?P<day>\d{1,2})(?P<sep>[./-])(?P<m>\d{1,2})"
               r"(?:(?P=sep)(?P<year>(?:19|20)?\d{2})(?!\d)|\.(?!\d))"),
    re.compile(r"(?<![\d.,€$£#/-])(?P<day>\d{1,2})[./](?P<m>\d{1,2})(?![\d.,/]|\s*(?:€|e\b|eur"
               r"|euro|%|kg|g\b|mm|cm|m\b|l\b|x\b|kpl|st\b|pcs|h\b|min))"),
    re.compile(rf"(?<![\d.])(?P<day>\d{{1,2}}){_ORDINAL}\s*(?:of\s+|de\s+|paiva(?:na)?\s+|p\.\s*)?"
               rf"{_MONTH}(?:,?\s*{_YEAR})?"),
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th|\.)?(?!\d)"
               rf"(?:,?\s*{_YEAR}|\s*(?:paivana|pna)\b)?"),
    # A month alone, or with a year: no ISO date. Not the English "may" and "march" (verbs).
    re.compile(rf"\b(?!may\b|march\b|mar\b){_MONTH}(?:\s*{_YEAR})?"),
)


_ARTICLE_BEFORE = re.compile(r"(?:\bart\w*\.?|§)\s*$")


@dataclass(frozen=True)
class DateMention:
    text: str
    """As written."""
    start: int
    end: int
    iso: str | None
    """YYYY-MM-DD when a day and a month were given (the year inferred when missing)."""


def _month_number(word: str) -> int | None:
    word = word.rstrip(".")
    if word in _MONTHS:
        return _MONTHS[word]
    if word.endswith("k") and word[:-1] in _MONTHS:  # "heinak.", "elok.": Finnish short forms
        return _MONTHS[word[:-1]]
    for stem, number in _MONTHS.items():
        if len(stem) >= 4 and word.startswith(stem):
            return number
    return None


def _iso(day: int | None, month: int | None, year: int | None, today: date) -> str | None:
    if day is None or month is None:
        return None
    try:
        if year is not None:
            return date(year if year >= 100 else 2000 + year, month, day).isoformat()
        found = date(today.year, month, day)
        if found > today:
            found = date(today.year - 1, month, day)
        return found.isoformat()
    except ValueError:  # 31.2., 29.2. of a common year
        return None


def find_dates(text: str, today: date) -> list[DateMention]:
    """Every date in `text`, in order, none overlapping another (the longest wins)."""
    folded = fold_aligned(text)
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for m in pattern.finditer(folded):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if _ARTICLE_BEFORE.search(folded, max(0, m.start() - 14), m.start()):
                continue  # "artikel 21.1", "§ 15.3": a paragraph, not a date
            groups = m.groupdict()
            month = (int(groups["m"]) if groups.get("m")
                     else _month_number(groups["month"]) if groups.get("month") else None)
            day = int(groups["day"]) if groups.get("day") else None
            if groups.get("sep") == "/" and month is not None and day is not None and (
                    month > 12 >= day):
                day, month = month, day  # "01/15/2025": read month first, the only reading
            if month is None or not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
                continue
            year = int(groups["year"]) if groups.get("year") else None
            raw = text[m.start():m.end()].rstrip(" ,")
            found.append(DateMention(raw, m.start(), m.start() + len(raw),
                                     _iso(day, month, year, today)))
            taken.append(m.span())
    return sorted(found, key=lambda d: d.start)
