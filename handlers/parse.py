"""Bytes of a mail -> a :class:`ParsedMessage` the rest of the pipeline can trust.

Why this module never raises for bad mail: people write to a privacy mailbox with every kind of
client, and a request in a broken charset is still a request the law makes us answer. So a
charset we do not know, a mislabelled charset, a truncated base64 part or an unparseable header
becomes a *defect* (a short string) on the result, and the best text we can recover. Only bytes
that cannot be a mail at all (empty, no header block) raise :class:`MalformedMessage`, which the
triage stage turns into a quarantine with the reason.

The standard library's ``email`` package with ``policy.default`` does the MIME work. Headers are
kept in order with their raw (unfolded) values, because the identity check reads
Authentication-Results and DKIM-Signature exactly as they arrived. Attachments are kept whole
(signed PDFs, ``.asc``/``.sig``, S/MIME signatures, photos of signed letters), and the exact
signed bytes of every ``multipart/signed`` part are cut from the raw message, since re-serialising
a parsed part can change the bytes a signature covers.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import (
    collapse_rfc2231_value,
    decode_params,
    getaddresses,
    parsedate_to_datetime,
    unquote,
)
from html.parser import HTMLParser
from typing import Any

from mailformat.charsets import clean_text as _clean
from mailformat.charsets import decode_bytes as _decode_bytes
from mailformat.headers import HeaderFacts, header_facts, raw_headers
from mailformat.headers import first_address as _first_address
from mailformat.message_id import message_ids, normalise_message_id

__all__ = [
    "Attachment", "HeaderFacts", "MalformedMessage", "ParsedMessage", "SignedPart",
    "header_facts", "html_to_text", "message_ids", "normalise_message_id", "parse_message",
    "raw_headers",
]

_FOLD = re.compile(r"\r?\n")
_SPACES = re.compile(r"[ \t\f\v\xa0\u200b]+")
_BLANKS = re.compile(r"\n{3,}")


class MalformedMessage(Exception):
    """The bytes cannot be a mail at all (empty, or no header block)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    #: ``Content-ID`` without brackets ("" if none): inline images in HTML mail.
    content_id: str = ""


@dataclass(frozen=True)
class SignedPart:
    """A ``multipart/signed`` part (RFC 1847): the exact bytes signed and the signature."""

    protocol: str
    micalg: str
    #: The first body part exactly as it appears in the raw message (headers included).
    content: bytes
    signature: bytes


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str
    in_reply_to: str
    references: list[str]
    from_address: str
    from_display: str
    reply_to: list[str]
    to: list[str]
    subject: str
    date: datetime | None
    text: str
    html: str | None
    attachments: list[Attachment]
    headers: list[tuple[str, str]]
    defects: list[str]
    cc: list[str] = field(default_factory=list)
    #: The top-level content type, e.g. ``multipart/report`` for a delivery status notification.
    content_type: str = "text/plain"
    signed_parts: list[SignedPart] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


# -- small helpers -----------------------------------------------------------------------------


def _unfold(value: Any) -> str:
    if value is None:
        return ""
    return _FOLD.sub("", str(value)).strip()


# -- HTML to text ------------------------------------------------------------------------------


class _HtmlToText(HTMLParser):
    """Visible text of an HTML body: scripts and styles dropped, blocks become line breaks."""

    _SKIP = frozenset({"script", "style", "title", "noscript", "template", "head"})
    _BLOCK = frozenset({
        "p", "div", "br", "li", "tr", "table", "ul", "ol", "blockquote", "pre", "hr",
        "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer",
        "dd", "dt", "dl", "address", "body", "form", "fieldset",
    })

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._seen_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A <head> that was never closed must not swallow the body.
            self._seen_body = True
            self._skip = 0
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML with the standard library only."""
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:
        text = re.sub(r"<[^>]*>", " ", html)
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


# -- the parse ---------------------------------------------------------------------------------


@dataclass
class _Body:
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
        headers.setdefault(name.lower(), _unfold(value))
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


def _walk(
    part: Message, raw: bytes, body: _Body, defects: list[str], depth: int = 0,
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
            _walk(sub, raw, body, defects, depth + 1, child_default)
        return ctype
    filename = _filename(info)
    data = _leaf_bytes(part, defects)
    if ctype in ("text/plain", "text/html") and info.disposition != "attachment" and not filename:
        text = _decode_bytes(data, info.params.get("charset"), defects)
        (body.plain if ctype == "text/plain" else body.html).append(text)
        return ctype
    body.attachments.append(Attachment(filename, ctype, data, info.content_id))
    return ctype


def _addresses(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        return [_clean(addr.strip()) for _, addr in getaddresses([value]) if "@" in addr]
    except Exception:
        return []


def _date(value: str | None, defects: list[str]) -> datetime | None:
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


def _decode_words(value: str, defects: list[str], what: str) -> str:
    """RFC 2047 encoded words (``=?utf-8?q?...?=``) decoded; plain values as they are."""
    if "=?" not in value:
        return _clean(value)
    try:
        return _clean(str(make_header(decode_header(value))))
    except Exception as exc:
        defects.append(f"undecodable {what}: {exc.__class__.__name__}")
        return _clean(value)


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw``; raise :class:`MalformedMessage` only if it cannot be a mail at all."""
    if not raw or not raw.strip():
        raise MalformedMessage("empty message")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; this is a last resort
        raise MalformedMessage(f"not parseable as a mail ({exc.__class__.__name__})") from exc
    assert isinstance(msg, EmailMessage)
    raw_headers = [(_clean(name), _clean(_unfold(value))) for name, value in msg.raw_items()]
    if not raw_headers:
        raise MalformedMessage("no header block")
    first: dict[str, str] = {}
    for name, value in raw_headers:
        first.setdefault(name.lower(), value)

    defects: list[str] = []
    body = _Body()
    content_type = _walk(msg, raw, body, defects)
    for part in msg.walk():
        defects.extend(type(d).__name__ for d in part.defects)

    html = "\n".join(body.html) if body.html else None
    plain = "\n".join(t for t in body.plain if t.strip())
    text = plain.strip() if plain.strip() else (html_to_text(html) if html else "")
    from_display, from_address = _first_address(first.get("from"))
    return ParsedMessage(
        message_id=normalise_message_id(first.get("message-id")),
        in_reply_to=normalise_message_id(first.get("in-reply-to")),
        references=message_ids(first.get("references")),
        from_address=from_address,
        from_display=_decode_words(from_display, defects, "From name"),
        reply_to=_addresses(first.get("reply-to")),
        to=_addresses(first.get("to")),
        cc=_addresses(first.get("cc")),
        subject=" ".join(_decode_words(first.get("subject", ""), defects, "Subject").split()),
        date=_date(first.get("date"), defects),
        text=text,
        html=html,
        attachments=body.attachments,
        headers=raw_headers,
        defects=list(dict.fromkeys(defects)),
        content_type=content_type,
        signed_parts=body.signed,
    )
