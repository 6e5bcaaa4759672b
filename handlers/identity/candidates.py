"""Register pointers in a mail's text (customer numbers, phones, addresses, names).

Easy to know about someone else, so they only give staff *candidates*, never a match; the
look-up itself is ``storage.candidates.find_candidates``, beside the columns it reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers

from handlers import lookalike
from handlers.fields import normalise_email
from mailformat.addresses import addresses_in
from storage.candidates import CandidateKeys

_CUSTOMER_NUMBER = re.compile(
    r"(?:asiakas(?:numero|nro|nr)|customer\s*(?:number|no\.?|nr\.?|id|#)|kund(?:nummer|nr)"
    r"|client\s*(?:number|no\.?))\s*+(?:[:#]\s*+)?([A-Za-z0-9][A-Za-z0-9-]{2,31})",
    re.IGNORECASE,
)
_NAME_LABELS = frozenset({"PER", "PERSON", "NAME"})


def candidate_keys(
    text: str, entities: Sequence[object] = (), region: str = "FI", *, sender: str = ""
) -> CandidateKeys:
    """Customer numbers, phone numbers, addresses and (from NLP entities) names in the text,
    and the registered addresses the ``sender`` address may be imitating.

    ``entities`` are ``nlp_models`` Entity objects; those labelled as a person give names.
    """
    text = text or ""
    numbers = list(dict.fromkeys(m.group(1) for m in _CUSTOMER_NUMBER.finditer(text)))
    phones: list[str] = []
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in phones:
            phones.append(e164)
    emails = list(dict.fromkeys(normalise_email(e) for e in addresses_in(text)))
    names: list[tuple[str, str]] = []
    for entity in entities:
        if str(getattr(entity, "label", "")).upper() not in _NAME_LABELS:
            continue
        parts = str(getattr(entity, "text", "")).split()
        if len(parts) >= 2:
            pair = (parts[0], parts[-1])
            if pair not in names:
                names.append(pair)
    near = lookalike.near_miss_addresses(sender) if sender else []
    return CandidateKeys(numbers[:10], phones[:10], emails[:10], names[:10], near)
