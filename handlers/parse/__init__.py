"""Bytes of a mail -> a ParsedMessage the rest of the pipeline can trust.

One job per module: ``parsed`` (what a parse returns), ``mime`` (the MIME walk: bodies,
attachments, signed parts), ``headers`` (decoding header values), ``html_text`` (HTML to
text) and ``message`` (the parse itself, and why it never raises for bad mail). The header
block read without a parse, charsets and Message-IDs live in the leaf package ``mailformat``.
"""

from handlers.parse.html_text import html_to_text
from handlers.parse.message import parse_message
from handlers.parse.parsed import Attachment, MalformedMessage, ParsedMessage, SignedPart
from mailformat.headers import HeaderFacts, header_facts, raw_headers
from mailformat.message_id import message_ids, normalise_message_id

__all__ = [
    "Attachment",
    "HeaderFacts",
    "MalformedMessage",
    "ParsedMessage",
    "SignedPart",
    "header_facts",
    "html_to_text",
    "message_ids",
    "normalise_message_id",
    "parse_message",
    "raw_headers",
]
