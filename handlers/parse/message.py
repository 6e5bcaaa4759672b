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

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from handlers.parse.headers import address_list, decode_words, header_date
from handlers.parse.html_text import html_to_text
from handlers.parse.mime import Body, unfold, walk
from handlers.parse.parsed import MalformedMessage, ParsedMessage
from mailformat.charsets import clean_text as _clean
from mailformat.headers import first_address as _first_address
from mailformat.message_id import message_ids, normalise_message_id


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw``; raise :class:`MalformedMessage` only if it cannot be a mail at all."""
    if not raw or not raw.strip():
        raise MalformedMessage("empty message")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; this is a last resort
        raise MalformedMessage(f"not parseable as a mail ({exc.__class__.__name__})") from exc
    assert isinstance(msg, EmailMessage)
    raw_headers = [(_clean(name), _clean(unfold(value))) for name, value in msg.raw_items()]
    if not raw_headers:
        raise MalformedMessage("no header block")
    first: dict[str, str] = {}
    for name, value in raw_headers:
        first.setdefault(name.lower(), value)

    defects: list[str] = []
    body = Body()
    content_type = walk(msg, raw, body, defects)
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
        from_display=decode_words(from_display, defects, "From name"),
        reply_to=address_list(first.get("reply-to")),
        to=address_list(first.get("to")),
        cc=address_list(first.get("cc")),
        subject=" ".join(decode_words(first.get("subject", ""), defects, "Subject").split()),
        date=header_date(first.get("date"), defects),
        text=text,
        html=html,
        attachments=body.attachments,
        headers=raw_headers,
        defects=list(dict.fromkeys(defects)),
        content_type=content_type,
        signed_parts=body.signed,
    )
