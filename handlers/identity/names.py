"""Register customers named in a mail by first and last name, in any Finnish inflection.

Why: "poistakaa työkaverini Matti Virtasen tiedot" names a third party by name only; without
this, a verified colleague's request to erase someone else would be carried out on his own
record. Finnish inflects names ("Virtanen" -> "Virtasen", "Virtaselle"; "Matti" -> "Matin";
"Pekka" -> "Pekalle"), so a name in the text matches a registered one when they share a stem:
all but the last letter, or all but "nen" of a -nen name, or the name up to a double consonant
that weakens (tt -> t, kk -> k); at least three letters, and the word in the text no shorter
than the name less one letter and no more than six letters longer. Both names must match,
side by side. A match only makes the customer a *candidate* for staff, never an identity.
"""

from __future__ import annotations

import re
from itertools import pairwise

from sqlmodel import Session

from storage.candidates import customers_by_name_prefix
from storage.models import Customer

_CAPITALISED = re.compile(r"\b[A-ZÅÄÖÜÉ][a-zåäöüéèšž'-]+(?:-[A-ZÅÄÖ][a-zåäöüéšž'-]+)?")
#: Name pairs taken from one mail (each is one indexed prefix look-up).
MAX_PAIRS = 15


def name_pairs(text: str) -> list[tuple[str, str]]:
    """Adjacent capitalised words, as (first, last) name candidates in the text's inflection."""
    words = [(m.group(0), m.start(), m.end()) for m in _CAPITALISED.finditer(text or "")]
    pairs: list[tuple[str, str]] = []
    for (first, _, end), (last, start, _) in pairwise(words):
        if text[end:start].strip() == "" and (first, last) not in pairs:
            pairs.append((first, last))
            if len(pairs) == MAX_PAIRS:
                break
    return pairs


def name_matches(word: str, registered: str) -> bool:
    """``word`` (as written in the mail) is an inflected form of the ``registered`` name."""
    w, r = word.lower(), registered.strip().lower()
    if not w or not r:
        return False
    if w == r:
        return True
    common = 0
    for a, b in zip(w, r, strict=False):
        if a != b:
            break
        common += 1
    if common < 3 or len(w) < len(r) - 1 or len(w) > len(r) + 6:
        return False
    if r.endswith("nen"):  # Virtanen -> Virtasen, Virtaselle
        return common >= len(r) - 3
    if 0 < common < len(r) and r[common - 1] == r[common]:  # Matti -> Matin, Pekka -> Pekalle
        return common >= len(r) - 3
    return common >= len(r) - 1  # Maija -> Maijan; Liisa -> Liisalle


def named_customers(session: Session, text: str) -> list[Customer]:
    """Register customers the text names by first and last name (any inflection)."""
    pairs = name_pairs(text)
    prefixes = list(dict.fromkeys((f.lower()[:3], last.lower()[:3]) for f, last in pairs))
    found: list[Customer] = []
    for customer in customers_by_name_prefix(session, prefixes):
        if any(name_matches(f, customer.first_name) and name_matches(last, customer.last_name)
               for f, last in pairs) and all(c.id != customer.id for c in found):
            found.append(customer)
    return found
