"""Header values decoded for the parse: address lists, the Date, RFC 2047 encoded words.

Never raising: an unreadable value becomes a defect (a short string) and the best text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import (
    getaddresses,
    parsedate_to_datetime,
)

from mailformat.charsets import clean_text as _clean


def address_list(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        return [_clean(addr.strip()) for _, addr in getaddresses([value]) if "@" in addr]
    except Exception:
        return []


def header_date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("unparseable Date header")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def decode_words(value: str, defects: list[str], what: str) -> str:
    """RFC 2047 encoded words (``=?utf-8?q?...?=``) decoded; plain values as they are."""
    if "=?" not in value:
        return _clean(value)
    try:
        return _clean(str(make_header(decode_header(value))))
    except Exception as exc:
        defects.append(f"undecodable {what}: {exc.__class__.__name__}")
        return _clean(value)
