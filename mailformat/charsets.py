"""Bytes of a mail's text -> str, never raising (declared charset, then the likely ones).

Why never raise: a request in a broken or mislabelled charset is still a request the law makes us
answer, so a charset we do not know becomes a *defect* (a short string) and the best text we
can recover.
"""

from __future__ import annotations

import codecs

__all__ = ["FALLBACK_CHARSETS", "clean_text", "decode_bytes"]

#: Charsets we try, in order, when the declared one is unknown or does not fit the bytes.
#: cp1252 before latin-1: Finnish mail from old clients is mostly Windows-1252.
FALLBACK_CHARSETS = ("utf-8", "cp1252")


def clean_text(value: str) -> str:
    """A str safe to store and show: raw 8-bit header bytes arrive as surrogate escapes."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        data = value.encode("utf-8", "surrogateescape")
        return decode_bytes(data, "utf-8", [])


def decode_bytes(data: bytes, charset: str | None, defects: list[str]) -> str:
    """Decode text, never raising: declared charset, then UTF-8, then Windows-1252, latin-1."""
    declared = (charset or "us-ascii").strip().lower()
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        codec = None
        defects.append(f"unknown charset {declared[:40]!r}")
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            if codec != "ascii":  # 8-bit bytes labelled us-ascii are too common to report
                defects.append(f"text does not match its charset {declared[:40]!r}")
    for fallback in FALLBACK_CHARSETS:
        if fallback == codec:
            continue
        try:
            return data.decode(fallback)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")
