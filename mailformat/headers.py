"""A mail's header block read cheaply, without a MIME parse: raw headers and header facts.

Why apart from the full parse (``handlers.parse``): storage needs the dedupe key (Message-ID)
and the rate-limit key (From) of every mail it stores, and the backlog importer needs dates,
before and without the full parse. Never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import getaddresses

from mailformat.charsets import clean_text
from mailformat.message_id import normalise_message_id

__all__ = ["HeaderFacts", "first_address", "header_facts", "raw_headers"]


@dataclass(frozen=True)
class HeaderFacts:
    """What storage needs before the full parse: the dedupe key and the rate-limit key."""

    message_id: str
    from_address: str


def first_address(value: str | None) -> tuple[str, str]:
    if not value:
        return "", ""
    try:
        pairs = getaddresses([value])
    except Exception:
        return "", ""
    for display, addr in pairs:
        if addr and "@" in addr:
            return clean_text(display), clean_text(addr.strip())
    return "", ""


def raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, unfolded value) of the header block, without a MIME parse (fast; never raises).

    Used where only a few headers are needed (storage's dedupe key, the backlog's dates).
    """
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    block = raw[: min(ends)] if ends else raw
    names: list[str] = []
    values: list[list[bytes]] = []
    for line in block.splitlines():
        if line[:1] in (b" ", b"\t"):
            if values:
                values[-1].append(line)
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or b" " in name.strip():
            continue  # e.g. an mbox "From " line
        names.append(name.strip().decode("ascii", "replace"))
        values.append([value.lstrip()])
    return [
        (name, clean_text(b"".join(parts).strip().decode("utf-8", "surrogateescape")))
        for name, parts in zip(names, values, strict=True)
    ]


def header_facts(raw: bytes) -> HeaderFacts:
    """Message-ID and From of ``raw`` from the header block alone (cheap; never raises)."""
    first: dict[str, str] = {}
    for name, value in raw_headers(raw):
        first.setdefault(name.lower(), value)
    _, addr = first_address(first.get("from"))
    return HeaderFacts(normalise_message_id(first.get("message-id")), addr)
