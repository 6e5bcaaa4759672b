"""The MIME walk: body text, attachments and the exact signed bytes of ``multipart/signed``.

MIME headers are read from their raw values (``policy.default`` re-parses every header through
its registry, which made that most of the parse time). The signed bytes are cut from the raw
message, since re-serialising a parsed part can change the bytes a signature covers.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import (
    collapse_rfc2231_value,
    decode_params,
    unquote,
)
from typing import Any

from handlers.parse.parsed import Attachment, SignedPart
from mailformat.charsets import clean_text as _clean
from mailformat.charsets import decode_bytes as _decode_bytes
from mailformat.message_id import normalise_message_id

_FOLD = re.compile(r"\r?\n")


# -- small helpers -----------------------------------------------------------------------------


def unfold(value: Any) -> str:
    if value is None:
        return ""
    return _FOLD.sub("", str(value)).strip()


# -- the parse ---------------------------------------------------------------------------------


@dataclass
class Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    signed: list[SignedPart] = field(default_factory=list)


@dataclass(frozen=True)
class _MimeInfo:
    """A part's MIME headers read from their raw values.

    Why not ``part.get_content_type()`` and friends: with ``policy.default`` every such call
    re-parses the header through the header registry, which made them most of the parse time.
    """

    content_type: str
    params: dict[str, str]
    disposition: str | None
    disposition_params: dict[str, str]
    content_id: str


def _split_params(value: str) -> tuple[str, list[tuple[str, str]]]:
    """``text/plain; charset="a;b"`` -> ("text/plain", [("charset", '"a;b"')])."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    params = []
    for piece in pieces[1:]:
        name, eq, val = piece.partition("=")
        if eq and name.strip():
            params.append((name.strip().lower(), val.strip()))
    return pieces[0].strip(), params


def _params(pairs: list[tuple[str, str]], defects: list[str]) -> dict[str, str]:
    """Parameters with RFC 2231 continuations and charsets decoded, quotes removed."""
    if not pairs:
        return {}
    try:
        decoded = decode_params([("", ""), *pairs])[1:]
    except Exception:
        defects.append("unparseable MIME parameters")
        decoded = pairs  # type: ignore[assignment]
    result: dict[str, str] = {}
    for name, value in decoded:
        try:
            text = collapse_rfc2231_value(value)
        except Exception:
            text = str(value)
        result.setdefault(name, _clean(unquote(text) if isinstance(text, str) else str(text)))
    return result


def _mime_info(part: Message, defects: list[str], default_type: str) -> _MimeInfo:
    headers: dict[str, str] = {}
    for name, value in part.raw_items():
        headers.setdefault(name.lower(), unfold(value))
    ctype, ct_pairs = _split_params(headers.get("content-type", ""))
    ctype = ctype.lower()
    if ctype.count("/") != 1 or " " in ctype:
        if ctype:
            defects.append("invalid Content-Type, read as text/plain")
        ctype = default_type if not ctype else "text/plain"
    disposition: str | None = None
    disp_pairs: list[tuple[str, str]] = []
    if "content-disposition" in headers:
        raw_disp, disp_pairs = _split_params(headers["content-disposition"])
        disposition = raw_disp.lower() or None
    content_id = normalise_message_id(headers.get("content-id"))[1:-1]
    return _MimeInfo(ctype, _params(ct_pairs, defects), disposition,
                     _params(disp_pairs, defects), content_id)


def _filename(info: _MimeInfo) -> str:
    name = info.disposition_params.get("filename") or info.params.get("name") or ""
    if "=?" in name:  # RFC 2047 encoded words in a filename: common, though not standard
        with contextlib.suppress(Exception):
            name = str(make_header(decode_header(name)))
    return _clean(name)


def _safe(call: Any, default: Any, defects: list[str], what: str) -> Any:
    try:
        return call()
    except Exception as exc:
        defects.append(f"{what}: {exc.__class__.__name__}")
        return default


def _leaf_bytes(part: Message, defects: list[str]) -> bytes:
    payload = _safe(lambda: part.get_payload(decode=True), b"", defects, "undecodable part")
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _message_part_bytes(part: Message, defects: list[str]) -> bytes:
    def serialise() -> bytes:
        payload = part.get_payload()
        if isinstance(payload, list):
            return b"".join(
                p.as_bytes(policy=policy.compat32) for p in payload if isinstance(p, Message)
            )
        if isinstance(payload, str):
            return payload.encode("utf-8", "surrogateescape")
        return b""

    result = _safe(serialise, b"", defects, "unreadable attached message")
    return result if isinstance(result, bytes) else b""


def _signed_content(raw: bytes, boundary: str | None) -> bytes:
    """The first body part of a multipart/signed exactly as in ``raw`` (RFC 1847, 5751)."""
    if not boundary:
        return b""
    delimiter = b"--" + boundary.encode("utf-8", "surrogateescape")
    start = raw.find(delimiter)
    while start > 0 and raw[start - 1 : start] != b"\n":
        start = raw.find(delimiter, start + 1)
    if start < 0:
        return b""
    line_end = raw.find(b"\n", start)
    if line_end < 0:
        return b""
    content_start = line_end + 1
    end = raw.find(b"\n" + delimiter, content_start)
    if end < 0:
        return b""
    if raw[end - 1 : end] == b"\r":
        end -= 1
    return raw[content_start:end]


def walk(
    part: Message, raw: bytes, body: Body, defects: list[str], depth: int = 0,
    default_type: str = "text/plain",
) -> str:
    """Collect body text and attachments under ``part``; return its content type."""
    info = _mime_info(part, defects, default_type)
    ctype = info.content_type
    if ctype.startswith("message/") or (depth > 50 and part.is_multipart()):
        body.attachments.append(Attachment(_filename(info), ctype,
                                           _message_part_bytes(part, defects)))
        return ctype
    if part.is_multipart():
        payload = part.get_payload()
        subparts = [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) \
            else []
        if ctype == "multipart/signed" and len(subparts) == 2:
            body.signed.append(SignedPart(
                protocol=info.params.get("protocol", "").lower(),
                micalg=info.params.get("micalg", "").lower(),
                content=_signed_content(raw, info.params.get("boundary")),
                signature=_leaf_bytes(subparts[1], defects),
            ))
        child_default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
        for sub in subparts:
            walk(sub, raw, body, defects, depth + 1, child_default)
        return ctype
    filename = _filename(info)
    data = _leaf_bytes(part, defects)
    if ctype in ("text/plain", "text/html") and info.disposition != "attachment" and not filename:
        text = _decode_bytes(data, info.params.get("charset"), defects)
        (body.plain if ctype == "text/plain" else body.html).append(text)
        return ctype
    body.attachments.append(Attachment(filename, ctype, data, info.content_id))
    return ctype
