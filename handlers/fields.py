"""Normalising and validating register values, so matching and imports agree on one form.

Emails are matched on a case-folded form; phones are stored as E.164 with Finland as the
default region, because customers write ``040 123 4567`` as often as ``+358 40 1234567``.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from mailformat import DsrbotError
from storage.models import normalise_email as normalise_email  # re-export: it lives by its column

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "kyllä", "kylla", "k", "ja", "x"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "ei", "e", "nej"})
POSTAL_CODE_RE = re.compile(r"\b\d{5}\b")


class FieldError(DsrbotError):
    """A value that cannot go into the register; the message is safe to show the operator."""


def validate_email_address(value: str) -> str:
    """Return the address as written (trimmed) if it is syntactically valid."""
    value = value.strip()
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldError(f"invalid email address ({exc})") from exc
    return value


def normalise_phone(value: str, region: str = "FI") -> str:
    """E.164 (``+358401234567``); raise :class:`FieldError` when it is not a possible number."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise FieldError(f"invalid phone number ({exc})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise FieldError("invalid phone number (not a possible number)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_flag(value: str) -> bool:
    word = value.strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise FieldError(f"not a yes/no value: {value!r} (use 1/0, true/false, yes/no)")


def parse_date(value: str) -> date:
    """ISO dates (2024-03-31); Finnish ``31.3.2024`` too, since spreadsheets here write them so."""
    value = value.strip()
    try:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", value):
            day, month, year = (int(p) for p in value.split("."))
            return date(year, month, day)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FieldError(f"invalid date {value!r} (use YYYY-MM-DD)") from exc


def parse_amount_cents(value: str) -> int:
    """``12.50``, ``12,50`` or ``12`` euros to integer cents."""
    text = value.strip().replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"-?\d+(\.\d{1,2})?", text):
        raise FieldError(f"invalid amount {value!r} (use euros like 12.50)")
    whole, _, frac = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((frac + "00")[:2]))


@cache
def _country_codes() -> dict[str, str]:
    """Country names (English, Finnish, Swedish) and ISO codes, case-folded, to the ISO code."""
    from babel import Locale

    names: dict[str, str] = {}
    for language in ("en", "fi", "sv"):
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha():
                names[name.casefold()] = code
                names[code.casefold()] = code
    names.update({"uk": "GB", "great britain": "GB", "england": "GB", "usa": "US"})
    return names


def address_country(value: str) -> str | None:
    """The ISO code of the address's last line (or last comma part) when it names a country;
    None when there is no country line (a domestic address)."""
    parts = [p.strip(" .") for p in re.split(r"[\n,]", value) if p.strip(" .")]
    if len(parts) < 2:
        return None
    return _country_codes().get(parts[-1].casefold())


def validate_postal_address(value: str) -> str:
    """A Finnish postal address carries a five-digit postal code; keep the text as written.

    Only Finnish addresses are held to that: one that ends in another country's name (``...,
    London NW1 6XE, United Kingdom``) is accepted as written, since each country has its own
    postal code rules and a customer abroad must still be reachable by post.
    """
    country = address_country(value)
    value = " ".join(value.split())
    if country not in (None, "FI"):
        return value
    if value and not POSTAL_CODE_RE.search(value):
        raise FieldError("postal address has no five-digit postal code (a foreign address "
                         "needs its country on the last line)")
    return value
