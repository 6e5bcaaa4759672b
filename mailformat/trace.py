"""The dedupe key of a mail without its trace headers: one mail, one key, whichever way it came.

Why: the same mail can reach us twice, over SMTP (an MTA delivers a copy to us) and over IMAP
(the copy in the mailbox). The bytes differ only in what the hops added on the way: Received,
Return-Path, Delivered-To, authentication results, spam scores, a mailbox's own status
headers, and line endings (CRLF on the wire, LF in a maildir). :func:`content_key` hashes the
message with those removed, so both copies share (Message-ID, key) and the inbox stores one row.
Everything the author wrote (From, Date, Subject, the body) is still in the hash: a different
mail under a reused Message-ID stays a different row.
"""

from __future__ import annotations

import hashlib
import re

#: Headers added in transit or by a mailbox, never by the author.
TRACE_HEADERS = frozenset({
    "received", "return-path", "delivered-to", "x-original-to", "x-delivered-to",
    "authentication-results", "received-spf", "x-received", "x-envelope-from",
    "x-envelope-to", "status", "x-status", "x-uid", "x-keywords", "content-length", "lines",
    "x-original-arrival-time", "x-ms-exchange-organization-authas",
})
TRACE_PREFIXES = ("arc-", "x-spam", "x-virus", "x-ham", "x-ms-exchange-")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def is_trace_header(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered in TRACE_HEADERS or lowered.startswith(TRACE_PREFIXES)


def _fields(head: bytes) -> list[bytes]:
    """Header fields with their continuation lines, in order."""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        elif line.strip():
            fields.append(line)
    return fields


def content_key(raw: bytes) -> str:
    """SHA-256 hex of ``raw`` minus trace headers, with line endings and trailing space evened."""
    text = raw.replace(b"\r\n", b"\n")
    if text.startswith(b"From "):  # an mbox separator line is not part of the mail
        text = text.partition(b"\n")[2]
    match = _HEADER_END.search(text)
    head, body = (text[: match.start()], text[match.end():]) if match else (text, b"")
    kept = [f for f in _fields(head)
            if not is_trace_header(f.partition(b":")[0].decode("ascii", "replace"))]
    digest = hashlib.sha256()
    for field in kept:
        digest.update(field.rstrip() + b"\n")
    digest.update(b"\n")
    digest.update(b"\n".join(line.rstrip() for line in body.rstrip().split(b"\n")))
    return digest.hexdigest()
