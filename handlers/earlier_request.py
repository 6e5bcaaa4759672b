"""Reminders: "I sent you a request on DATE under Article N and have had no answer".

Why a small rule-based finder: the month of GDPR Art. 12(3) runs from the receipt of the
*first* request, so staff must hear about a claimed earlier date. The classifier's
``earlier_request`` entity (nlp_models) will replace these rules; everything else calls only
:func:`find_earlier_request`, so the swap is one function. Finnish, English and Swedish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session

from storage import audit
from storage.models import Case

#: Words that make a date "the earlier request" rather than any date in the mail.
_CUES = re.compile(
    r"(?i)\b(sent|made|submitted|requested|asked|wrote|request of|reminder|no (?:answer|reply|"
    r"response)|lähetin|lähettämäni|pyysin|tein|esitin|muistutus|en ole saanut|vastausta|"
    r"skickade|begärde|gjorde|påminnelse|inte fått|inget svar)")
_NUMERIC = re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})\b|\b(\d{4})-(\d{2})-(\d{2})\b"
                      r"|\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "tammikuuta": 1, "helmikuuta": 2, "maaliskuuta": 3, "huhtikuuta": 4, "toukokuuta": 5,
    "kesäkuuta": 6, "heinäkuuta": 7, "elokuuta": 8, "syyskuuta": 9, "lokakuuta": 10,
    "marraskuuta": 11, "joulukuuta": 12,
    "januari": 1, "februari": 2, "mars": 3, "maj": 5, "juni": 6, "juli": 7, "augusti": 8,
    "oktober": 10,
}
_WORDED = re.compile(r"(?i)\b(\d{1,2})(?:st|nd|rd|th|\.)?\s+(?:of\s+)?([a-zäö]+)\s+(\d{4})\b"
                     r"|\b([a-z]+)\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_ARTICLE = re.compile(r"(?i)\b(?:art(?:icle|ikla|ikel)?\.?|artiklan?)\s*(1[5-9]|2[0-2])\b"
                      r"|\b(1[5-9]|2[0-2])\s*(?:art(?:\.|ikla|iklan|ikeln)?)\b")
#: GDPR article -> the right it names (the case types of handlers.rights).
ARTICLE_RIGHTS = {15: "access", 16: "rectification", 17: "erasure", 18: "restriction",
                  20: "portability", 21: "objection"}


@dataclass(frozen=True)
class EarlierRequest:
    """What a reminder claims: the day of the first request and the articles it named."""

    claimed_on: date
    articles: tuple[int, ...]

    @property
    def rights(self) -> tuple[str, ...]:
        return tuple(ARTICLE_RIGHTS[a] for a in self.articles if a in ARTICLE_RIGHTS)


def find_earlier_request(text: str, *, received_on: date) -> EarlierRequest | None:
    """The earlier request a mail claims (a past date near a reminder cue), else None."""
    if not _CUES.search(text):
        return None
    dates = [d for d in _dates(text) if d < received_on]
    if not dates:
        return None
    articles = tuple(dict.fromkeys(int(a or b) for a, b in _ARTICLE.findall(text)))
    return EarlierRequest(claimed_on=min(dates), articles=articles)


def staff_note(claimed_on: date) -> str:
    """What staff are told on the case (card, console, desk)."""
    return (f"claims an earlier request of {claimed_on.isoformat()}: search the mailbox; "
            "the deadline may run from then")


def record_claim(session: Session, case: Case, claim: EarlierRequest,
                 actor: str = audit.BOT_ACTOR) -> bool:
    """Put the claimed date on the case (once) and tell staff; audited. The due date stays
    until staff find the first request and set the receipt date back."""
    if case.claimed_earlier is not None and case.claimed_earlier <= claim.claimed_on:
        return False
    case.claimed_earlier = claim.claimed_on
    case.reasons = [*case.reasons, staff_note(claim.claimed_on)]
    case.updated_at = datetime.now(UTC)
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.claimed_earlier", case_id=case.id, details={
        "claimed_on": claim.claimed_on.isoformat(), "articles": list(claim.articles)})
    return True


def _dates(text: str) -> list[date]:
    found: list[date] = []
    for m in _NUMERIC.finditer(text):
        g = m.groups()
        if g[0]:
            parts = (int(g[2]), int(g[1]), int(g[0]))
        elif g[3]:
            parts = (int(g[3]), int(g[4]), int(g[5]))
        else:
            parts = (int(g[8]), int(g[7]), int(g[6]))  # dd/mm/yyyy, as written in Europe
        found.extend(_valid(*parts))
    for m in _WORDED.finditer(text):
        g = m.groups()
        day, month, year = (g[0], g[1], g[2]) if g[0] else (g[4], g[3], g[5])
        number = _MONTHS.get(month.lower())
        if number:
            found.extend(_valid(int(year), number, int(day)))
    return found


def _valid(year: int, month: int, day: int) -> list[date]:
    try:
        return [date(year, month, day)]
    except ValueError:
        return []
