"""Rule-based entities: who writes, and which customer, order or invoice the mail is about.

These are formats, not meanings, so regular expressions and `phonenumbers` do better than a
model trained on a few hundred mails. Numbers follow the register's formats: customer numbers
are six digits starting with 1 (and only count next to a word like "asiakasnumero", since six
digits alone are too common), order numbers seven digits starting with 5, invoice numbers eight
digits starting with 9. A phone number wins over a number-shaped part of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from nlp_models.preprocess import fold_aligned


@dataclass(frozen=True)
class Entity:
    """A span of the plain-text body (HTML converted, line ends normalised); start and end
    are -1 when the text is not in the body (a name taken from the From header).

    `value` is the normalised form (E.164 phone, lower-case email); for a rectification it is
    the new value as written and `field` names the register field.
    """

    label: str
    text: str
    start: int
    end: int
    field: str | None = None
    value: str | None = None


EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
URL = re.compile(
    r"(?<![@\w.-])(?:https?://[^\s<>\"')]+|www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[^\s<>\"')]*)?)",
    re.I,
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)")
# Cheap first looks, each what its patterns cannot match without (most mail has none):
# an octet's digit, dot and digit; a register number's six digits; a postal code and its space.
_DIGIT = re.compile(r"\d")
_IPV4_HINT = re.compile(r"\d\.\d")
_SIX_DIGITS = re.compile(r"\d{6}")
_POSTAL_CODE = re.compile(r"\d{5}\s")
_CUSTOMER = re.compile(r"(?<![\d-])1\d{5}(?![\d-])")
_ORDER = re.compile(r"(?<![\d-])5\d{6}(?![\d-])")
_INVOICE = re.compile(r"(?<![\d-])9\d{7}(?![\d-])")
_CUSTOMER_CONTEXT = re.compile(
    r"(asiakas\s?(numero|nro|nr|no|tunnus)?|as\.?\s?nro|customer|cust\.?|client|account|kund\s?"
    r"(nummer|nr|nr\.|no)?|kundnummer|kundnr|numero|number|nummer|no\.?|nr\.?|#)"
    # An inflection ("asiakasnumeroni", "kundnumret") and up to two short words before the
    # number ("on", "is", "är", "was: ") still tie it to the context word.
    # Every repeat is bounded, so each start costs constant work (linear; it only reads 40 chars).
    r"\w{0,6}(?:\W{1,12}\w{1,4}){0,2}\W{0,12}$"
)
_STREET_WORD = r"[A-ZÅÄÖ][\wÅÄÖåäö'-]*"
_STREET_TYPE = (r"(?:katu|tie|kuja|polku|väylä|raitti|puistikko|puistotie|valtatie|rinne|ranta|"
                r"aukio|kaari|gata|gatan|väg|vägen|gränd|street|road|avenue|lane)")
POSTAL_ADDRESS = re.compile(
    # The street starts where a word starts (see mailformat.addresses: linear, not quadratic).
    rf"(?P<street>(?<![\w'-])(?:{_STREET_WORD}\s){{0,3}}(?:{_STREET_WORD}|{_STREET_TYPE})\s\d{{1,4}}[a-z]?"
    r"(?:\s?[A-Z](?:\s?\d{1,4})?)?(?:\s?(?:as\.?|asunto|bst\.?|lgh\.?|lh\.?)\s?\d{1,4})?"
    r"(?:\s?[A-Z]\s?\d{1,4})?"
    r"|(?:PL|PB|PO Box|P\.O\. Box|Box)\s?\d{1,5})"
    r"\s*(?:,\s*|\n\s*|\s+)(?:FI-?)?(?P<code>\d{5})\s+(?P<city>[A-ZÅÄÖ][\wåäöÅÄÖ-]+)"
)
_NAME_WORD = r"[A-ZÅÄÖ][a-zåäöéüA-ZÅÄÖ'-]+"
_NAME = re.compile(
    rf"^\s*+(?:(?:-|–|/|t\.|t:)\s*+)?({_NAME_WORD}(?:\s{_NAME_WORD}){{1,3}})\s*+(?:[,.]\s*+)?$")
_NOT_NAME = re.compile(
    r"\b(oy|oyj|ab|ltd|ky|tmi|ry|inc|gmbh|group|asiakaspalvelu|customer|service|team|"
    r"regards|terveisin|hälsningar|kiitos|thanks|tack|sent|lähetetty|skickat|best|kind|"
    r"toimitusjohtaja|manager|director|ceo|cfo|head|päällikkö|johtaja|chef|direktör|"
    r"helsinki|espoo|tampere|vantaa|oulu|turku|finland|suomi|sverige)\b",
    re.I,
)


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def emails(text: str) -> list[Entity]:
    if "@" not in text:
        return []
    return [Entity("email", m.group(), m.start(), m.end(), value=m.group().lower())
            for m in EMAIL.finditer(text)]


PHONE_MIN_CHARS = 3
"""No phone number is written in fewer characters: one or two (a day, a count, "15" of
"Article 15") are never a valid number, as parsed or inside (`tests/test_nlp_entities.py`
tries every such string)."""
_MATCHER_TRIES = 65_535
"""`PhoneNumberMatcher`'s default `max_tries`: after that many failed candidates it gives up."""
_TRIES_PER_CHAR = 13
"""At most this many tries per character of the text: a candidate of n characters is tried
whole once and, for each of the matcher's six inner patterns, at most n + 1 times."""


def phones(text: str, taken: list[tuple[int, int]]) -> list[Entity]:
    out: list[Entity] = []
    # The matcher skips candidates shorter than `min_candidate_length` before parsing them:
    # the one- and two-character ones were most candidates and a third of the time. A skipped
    # candidate is also not counted as a try, so only where the text is too short to use up
    # the tries (else a long text could find a number the matcher gave up before).
    shortest = PHONE_MIN_CHARS if len(text) * _TRIES_PER_CHAR < _MATCHER_TRIES else 1
    try:
        matches = list(phonenumbers.PhoneNumberMatcher(text, "FI", min_candidate_length=shortest))
    except Exception:
        return out
    for m in matches:
        if _overlaps(m.start, m.end, taken):
            continue
        e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        out.append(Entity("phone", m.raw_string, m.start, m.end, value=e164))
    return out


def register_numbers(text: str, taken: list[tuple[int, int]]) -> list[Entity]:
    """Customer, order and invoice numbers outside phone numbers and addresses."""
    out: list[Entity] = []
    if not _SIX_DIGITS.search(text):
        return out
    for m in _CUSTOMER.finditer(text):
        before = fold_aligned(text[max(0, m.start() - 40):m.start()])
        if not _overlaps(m.start(), m.end(), taken) and _CUSTOMER_CONTEXT.search(before):
            out.append(Entity("customer_number", m.group(), m.start(), m.end(), value=m.group()))
    for label, pattern in (("order_number", _ORDER), ("invoice_number", _INVOICE)):
        for m in pattern.finditer(text):
            if not _overlaps(m.start(), m.end(), taken):
                out.append(Entity(label, m.group(), m.start(), m.end(), value=m.group()))
    return out


_ADDRESS_LEAD = frozenset(
    "uusi uusi oikea oikein on osoite osoitteeni osoitteen osoitteeksi postiosoite kotiosoite "
    "olen asun muutin new address is my the to correct complete ny nya adress adressen min "
    "till ar bor numera nykyaan mun meidan at".split()
)


def postal_addresses(text: str) -> list[Entity]:
    out: list[Entity] = []
    if not _POSTAL_CODE.search(text):
        return out
    for m in POSTAL_ADDRESS.finditer(text):
        start = m.start()
        street = m.group("street")
        # "Uusi osoite on Rantakatu 7": capitalised lead words are not part of the street.
        while True:
            first, _, rest = street.partition(" ")
            if not rest or fold_aligned(first).strip(":,") not in _ADDRESS_LEAD:
                break
            street = rest.lstrip()
            start = m.end("street") - len(street)
        value = f"{street.strip()}, {m.group('code')} {m.group('city')}"
        out.append(Entity("postal_address", text[start:m.end()], start, m.end(), value=value))
    return out


def person_from_display(display: str) -> str:
    """'"Virtanen, Matti"' -> 'Matti Virtanen'; an address or a role name gives ''."""
    name = display.strip().strip("\"'").strip()
    if "@" in name or not name:
        return ""
    if name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        name = f"{first} {last}"
    if _NOT_NAME.search(name) or not re.fullmatch(rf"{_NAME_WORD}(?:\s{_NAME_WORD}){{0,3}}", name):
        return ""
    return name


def person_from_signature(text: str, signature: str) -> Entity | None:
    """The first line of the signature block that looks like a person's name."""
    if not signature:
        return None
    base = text.rfind(signature)
    offset = 0
    for line in signature.split("\n"):
        m = _NAME.match(line)
        if m and not _NOT_NAME.search(m.group(1)):
            name = m.group(1)
            start = (base + offset + line.find(name)) if base >= 0 else -1
            if start < 0:
                return Entity("person", name, -1, -1, value=name)
            return Entity("person", name, start, start + len(name), value=name)
        offset += len(line) + 1
    return None


def _add_numbered(text: str, found: list[Entity]) -> None:
    """IP addresses, phone numbers, register numbers and postal addresses of `text`, added to
    `found` (its emails and links): each has a digit."""
    if _IPV4_HINT.search(text):
        for m in IPV4.finditer(text):
            found.append(Entity("ip_address", m.group(), m.start(), m.end(), value=m.group()))
    taken = [(e.start, e.end) for e in found]
    addresses = postal_addresses(text)
    found.extend(phones(text, taken))
    taken = [(e.start, e.end) for e in found]
    found.extend(register_numbers(text, taken))
    found.extend(a for a in addresses if not _overlaps(a.start, a.end, [
        (e.start, e.end) for e in found if e.label == "phone"]))


def extract_entities(text: str, signature: str = "", from_display: str = "") -> list[Entity]:
    """All rule-based entities of `text` (the sender's part of the plain-text body)."""
    found: list[Entity] = emails(text)
    if "://" in text or "www." in text.lower():
        for m in URL.finditer(text):
            found.append(Entity("www", m.group(), m.start(), m.end(), value=m.group()))
    if _DIGIT.search(text):  # (most mail has none: no number of any kind to look for)
        _add_numbered(text, found)
    name = person_from_display(from_display)
    if name:
        at = text.find(name)
        start, end = (at, at + len(name)) if at >= 0 else (-1, -1)
        found.append(Entity("person", name, start, end, value=name))
    else:
        person = person_from_signature(text, signature)
        if person is not None:
            found.append(person)
    return sorted(found, key=lambda e: (e.start, e.label))
