"""Reminders of an earlier request: the date it was sent and the right it asked for.

After the request itself, the reminder is the most common letter people send ("muistutus",
"påminnelse", "my request of 3 October under Article 15 has not been answered"). The deadline
runs from the earlier request, so staff need its claimed date, and the case must be opened for
the right the earlier request named, which is often only in the quoted older mail below or in
an article number. Bare reminders read like ordinary mail to the statistical model ("I have
had no answer"), which is why they were missed; these rules find them.

- A **reminder** (:func:`is_reminder`) says so, or says the earlier request went unanswered or
  its deadline passed. Its named right is claimed as a label (:mod:`nlp_models.classifier`).
- An **earlier request** (:func:`earlier_request`) is a reminder or a mail that points at a
  request sent before ("my request of", "pyysin ... päivänä", "jag begärde den ..."), with the
  date it claims (:mod:`nlp_models.dates`) and the right(s) it names, by article, legal name or
  request noun, in the sender's own words first, then in the quoted older mail.

Patterns run on `fold_aligned` text (lower case, no diacritics, same offsets), so spans point
back into the text as written.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

from nlp_models.articles import article_mentions
from nlp_models.dates import DateMention, find_dates
from nlp_models.preprocess import fold_aligned
from nlp_models.reminder_wordings import ARRIVED as _ARRIVED
from nlp_models.reminder_wordings import EARLIER as _EARLIER
from nlp_models.reminder_wordings import REMINDER as _REMINDER
from nlp_models.request_nouns import REQUEST_NOUNS
from nlp_models.rules import legal_name_spans

_DUNNING = re.compile(
    r"(?:lasku|maksu|erapaiv|perinta|faktura|betalning|inkasso|invoice|payment|bill\b|overdue)"
    r"\w*\W+(?:\w+\W+){0,3}\w*(?:muistut|paminn|remind)|(?:muistut|paminn|remind)\w*\W+"
    r"(?:\w+\W+){0,3}(?:lasku|maksu|erapaiv|faktura|betalning|inkasso|invoice|payment|bill\b"
    r"|fee\b|avgift|kulu|meeting|appointment|tapaami|palaveri|kokous|mote\b|motet|webinar"
    r"|event|tarjous|offer|kampanj|campaign)|\b\w*(?:muistut|paminn)\w*(?:kulu|maksu|avgift)"
    r"|(?:remind\w*|paminnelse\w*) (?:e-?mail|mejl|sms) (?:in|i)\b"
)
"""A payment reminder ("maksumuistutus", "påminnelse om en faktura") is another kind."""
_SENT_CUE = re.compile(
    r"\b(?:request\w*|sent|submitted|e-?mailed|wrote|written|asked|told|called|phoned|letter"
    r"|e-?mail|mail|message|dated|objected)\b"
    r"|\bpyyn|\bpyysin|\blahet|\bkirjoit|\bpaivat|\bviest|\bsoitin|\bsanoin|\bkavin|\blaitoin"
    r"|\bbegar|\bskick|\bdater|\bbrev|\bmejl|\bskrev|\bbad\b|\binvande|\bringde|\bmeddela"
    # said on the phone: "senast i telefon 8.4.", "sanoin puhelimessa 5.11."
    r"|\btelefon|\bphone\b|\bpuhelim|\bsagt\b|\bsaid\b"
)
_DEADLINE_BEFORE = re.compile(
    # not "by letter dated 2 October": how it was sent
    r"(?:deadline|by(?! (?:letter|e-?mail|mail|post|fax))|until|before|within|expired|mennessa"
    r"|maaraika|viimeistaan|senast|innan|"
    r"tidsfrist|fram till|asti)\W{0,3}(?:\w+\W+){0,2}$"
)
_QUOTED_DATE_LINE = re.compile(
    r"^[ \t]*(?:>[ \t]*)*(?:sent|date|lahetetty|paivamaara|skickat|datum)[ \t]*(?::|(?=\d))"
    # "On 3 Oct, X wrote:", "X kirjoitti 3.10.2026 klo 10.14:", "Den 2 okt. 2026 skrev X <x@y>:"
    r"|\b(?:wrote|kirjoitti|skrev)\b[^\n]{0,120}:\s*$"
    # an acknowledgement quoted below: "olemme vastaanottaneet viestisi 7.3.2025"
    r"|\b(?:vastaanottaneet (?:viestisi|pyyntosi)|received your (?:message|request|e-?mail)"
    r"|(?:tagit emot|mottagit) (?:ditt|din) (?:meddelande|begaran|mejl))\b", re.M,
)


@dataclass(frozen=True)
class EarlierRequest:
    """A request the sender says they made before. Any part may be missing."""

    date: str | None
    """The claimed date, ISO (YYYY-MM-DD), when the mail gives a day and a month; a missing year
    is the latest one not after the day the mail was read."""
    date_text: str | None
    """The date as written ("3.10.2026", "den 5 oktober", "October"); None when none is named
    ("last month")."""
    rights: tuple[str, ...]
    """The labels of the right(s) the earlier request asked for."""
    right_text: str | None
    """The words that named the right, as written ("Art. 15", "tarkastuspyyntö"); None when the
    right comes from the classification of the mail (nothing named it outright)."""

    @property
    def right(self) -> str | None:
        return self.rights[0] if self.rights else None


_INT = re.compile(r"\bint\b")


def _earlier(folded: str) -> bool:
    return _EARLIER.search(folded)


@functools.lru_cache(maxsize=4)
def _signals(folded: str) -> tuple[bool, bool, bool]:
    """Whether the text (payment reminders left out) says it reminds; else whether it asks
    whether something arrived, and whether it names a request made before. (Remembered for the
    last few texts: the classifier asks of the same words twice, for the rights a reminder names
    and, quoting or not, for the earlier request, and these are the costliest searches.)"""
    if "muistut" in folded or "paminn" in folded or "remind" in folded:
        folded = _DUNNING.sub(" ", folded)
    if "int " in folded:
        folded = _INT.sub("inte", folded)  # Finland-Swedish "har int fått svar"
    if _REMINDER.search(folded):
        return True, False, False
    arrived = _ARRIVED.search(folded)
    return False, arrived, arrived and _earlier(folded)


def _reminds(folded: str, quoting: bool = False) -> bool:
    """"Did it arrive?", "any news?", "it has been five weeks" remind only of something: a request
    the sender says they made (`_EARLIER`), or the older mail they quote below (`quoting`)."""
    said, arrived, earlier = _signals(folded)
    return said or (arrived and (quoting or earlier))


def is_reminder(subject: str, text: str, quoting: bool = False) -> bool:
    """Whether the sender's subject or own words remind us of an earlier request that went
    unanswered (or ask whether it arrived); `quoting`: the mail quotes or forwards older mail
    below the sender's words."""
    return _reminds(fold_aligned(f"{subject}\n{text}"), quoting)


def named_rights(text: str) -> tuple[tuple[str, ...], str | None]:
    """The rights `text` names by article, legal name or request noun (in that order of trust),
    and the words that named the first one, as written."""
    folded = fold_aligned(text)
    found: list[tuple[str, int, int]] = article_mentions(folded) or legal_name_spans(folded)
    if not found:
        found = sorted(
            ((label, m.start(), m.end()) for label, pattern in REQUEST_NOUNS
             for m in [pattern.search(folded)] if m),
            key=lambda x: x[1])
    if not found:
        return (), None
    rights = tuple(dict.fromkeys(label for label, _, _ in found))
    _, start, end = found[0]
    while end < len(text) and text[end].isalnum():
        end += 1  # the whole word: "kopio tiedoista", not "kopio tiedoist"
    return rights, text[start:end]


def _claimed_date(own: str, headers: str, today: date) -> DateMention | None:
    """The date in the sender's words that most looks like when the request was sent (in a
    sentence about sending or asking, not after "by" or "deadline"; of those the earliest, as
    a reminder also names later reminders and replies); failing that, the date of the quoted or
    forwarded older mail's header ("Sent: 3 October 2026 10:14"). A month alone ("in June")
    names no date."""
    folded = fold_aligned(own)
    best: tuple[int, str, DateMention] | None = None
    for d in find_dates(own, today):
        if d.iso is None or d.iso > today.isoformat():
            continue  # a month alone, or a deadline to come, not a request sent
        line_start = max(folded.rfind(c, 0, d.start) for c in ".!?\n") + 1
        line_end = min((i for i in (folded.find(c, d.end) for c in ".!?\n") if i >= 0),
                       default=len(folded))
        sentence = folded[line_start:line_end]
        score = 2 * bool(_SENT_CUE.search(sentence)) + _earlier(sentence)
        score -= 3 * bool(_DEADLINE_BEFORE.search(folded[max(0, d.start - 30):d.start]))
        if best is None or score > best[0] or (score == best[0] and d.iso < best[1]):
            best = (score, d.iso, d)
    if best is not None and best[0] >= 0:
        return best[2]
    for line in headers.split("\n"):
        if _QUOTED_DATE_LINE.search(fold_aligned(line)):
            dates = [d for d in find_dates(line, today) if d.iso]
            if dates:
                return dates[0]
    return None


def earlier_request(
    subject: str, own: str, older: str, today: date,
    fallback_rights: tuple[str, ...] = (), headers: str = "",
) -> EarlierRequest | None:
    """The earlier request `own` (the sender's new words) refers to, or None when it refers to
    none. `older` is the quoted older mail, where the earlier request itself often is;
    `headers` the whole body, whose quoted or forwarded header lines date it when the sender's
    words do not; `fallback_rights` (the mail's own labels) name the right when no words do."""
    folded = fold_aligned(own)
    reminds = _reminds(fold_aligned(f"{subject}\n{own}"), bool(older.strip()))
    if not (reminds or _earlier(folded)):
        return None
    rights, right_text = named_rights(f"{subject}\n{own}")
    if not rights and older:
        rights, right_text = named_rights(older)
    if not rights:
        rights, right_text = fallback_rights, None
    if not rights:
        return None  # a reminder about a delivery or an invoice, not about a right
    claimed = _claimed_date(own, headers or older, today)
    if claimed is None and not reminds:
        return None  # "I asked..." with no date and no reminder: a request of today
    return EarlierRequest(
        date=claimed.iso if claimed else None,
        date_text=claimed.text if claimed else None,
        rights=rights,
        right_text=right_text,
    )
