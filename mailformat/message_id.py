"""Message-IDs: the one normaliser for ids we read, and the strict check for ids we write.

Why both live here: deduplication (storage.inbox), threading (handlers.cases) and the headers we
write (mailformat.outgoing) must agree on what an id looks like, or a reply stops finding its
case. Ids we *read* are normalised leniently (:func:`normalise_message_id`: whatever the sender
wrote becomes ``<id@host>``); ids we *write* must pass :func:`clean_message_id`, which refuses
anything that could carry a header break.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mailformat.charsets import clean_text

__all__ = [
    "MAX_MESSAGE_ID", "MAX_MESSAGE_ID_CHARS", "MAX_REFERENCES", "clean_message_id",
    "clean_message_ids", "message_ids", "normalise_message_id",
]

#: RFC 5322 line limit: a longer "id" is not one we keep for threading.
MAX_MESSAGE_ID = 998
#: Longest id we write into a header of our own.
MAX_MESSAGE_ID_CHARS = 250
#: References kept when threading: the first (thread root) and the most recent ones.
MAX_REFERENCES = 20

_MSGID = re.compile(r"<[^<>\s]+>")
_MSGID_BODY = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+")  # visible ASCII except < and >


def normalise_message_id(value: str | None) -> str:
    """``<id@host>`` as the dedupe and threading key; "" when there is none."""
    if not value:
        return ""
    match = _MSGID.search(value)
    if match:
        return clean_text(match.group(0))
    token = "".join(value.split())
    return f"<{clean_text(token)}>" if token else ""


def message_ids(value: str | None) -> list[str]:
    """Every ``<id>`` in an In-Reply-To or References value, in order."""
    return [clean_text(m) for m in _MSGID.findall(value or "")]


def clean_message_id(value: str) -> str | None:
    """``<id@host>`` when ``value`` is one plausible msg-id, else None (threading: best effort)."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    if not value or len(value) > MAX_MESSAGE_ID_CHARS or not _MSGID_BODY.fullmatch(value):
        return None
    if "=?" in value:
        # The header parser decodes RFC 2047 words even inside msg-ids and folds the decoded
        # text raw (see clean_subject): such an id could carry a CR LF into our headers.
        return None
    return f"<{value}>"


def clean_message_ids(values: Iterable[str]) -> list[str]:
    """Valid ids in order, duplicates dropped, trimmed to the root plus the newest ones.

    A References header may arrive as one string with several ids; those are split first.
    """
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        for token in re.findall(r"<[^<>]*>|[^\s<>]+", value):
            mid = clean_message_id(token)
            if mid and mid not in seen:
                seen.add(mid)
                out.append(mid)
    if len(out) > MAX_REFERENCES:
        out = [out[0], *out[-(MAX_REFERENCES - 1):]]
    return out


