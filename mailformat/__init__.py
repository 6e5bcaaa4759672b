"""Mail formats: the leaf package every layer may import, and that imports none of ours.

Why a leaf: storage (dedupe keys, the outbox row's checks), handlers (the parse, threading) and
bot (delivery) all need the same rules for headers and Message-IDs. Kept apart from all three,
those rules exist once and no import runs against the layers (``[tool.importlinter]``).

Importing the package loads only the root error: every other name is imported from its module
on first use (PEP 562), so a command that needs ``DsrbotError`` does not pay for the e-mail
policy machinery and the composer (``dsrbot --help`` imports this package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailformat.errors import DsrbotError
from mailformat.lazy import lazy_getattr

if TYPE_CHECKING:
    from mailformat.charsets import clean_text, decode_bytes
    from mailformat.cleaning import (
        THREADING_HEADERS,
        UnsafeValue,
        check_domain,
        check_recipient,
        clean_content_type,
        clean_filename,
        clean_subject,
        domain_of,
        thread_headers,
    )
    from mailformat.headers import HeaderFacts, first_address, header_facts, raw_headers
    from mailformat.message_id import (
        clean_message_id,
        clean_message_ids,
        message_ids,
        normalise_message_id,
    )
    from mailformat.outgoing import (
        CANARY_HEADER,
        OutAttachment,
        OutgoingMail,
        compose,
        is_forwarded_mail,
        to_bytes,
    )
    from mailformat.trace import content_key, is_trace_header

#: exported name -> the module of this package that defines it
_HOMES = {
    "clean_text": "charsets",
    "decode_bytes": "charsets",
    "THREADING_HEADERS": "cleaning",
    "UnsafeValue": "cleaning",
    "check_domain": "cleaning",
    "check_recipient": "cleaning",
    "clean_content_type": "cleaning",
    "clean_filename": "cleaning",
    "clean_subject": "cleaning",
    "domain_of": "cleaning",
    "thread_headers": "cleaning",
    "HeaderFacts": "headers",
    "first_address": "headers",
    "header_facts": "headers",
    "raw_headers": "headers",
    "clean_message_id": "message_id",
    "clean_message_ids": "message_id",
    "message_ids": "message_id",
    "normalise_message_id": "message_id",
    "CANARY_HEADER": "outgoing",
    "OutAttachment": "outgoing",
    "OutgoingMail": "outgoing",
    "compose": "outgoing",
    "is_forwarded_mail": "outgoing",
    "to_bytes": "outgoing",
    "content_key": "trace",
    "is_trace_header": "trace",
}


if not TYPE_CHECKING:  # mypy sees the imports above, and still flags unknown names
    __getattr__ = lazy_getattr(__name__, _HOMES, globals())


__all__ = [
    "CANARY_HEADER",
    "THREADING_HEADERS",
    "DsrbotError",
    "HeaderFacts",
    "OutAttachment",
    "OutgoingMail",
    "UnsafeValue",
    "check_domain",
    "check_recipient",
    "clean_content_type",
    "clean_filename",
    "clean_message_id",
    "clean_message_ids",
    "clean_subject",
    "clean_text",
    "compose",
    "content_key",
    "decode_bytes",
    "domain_of",
    "first_address",
    "header_facts",
    "is_forwarded_mail",
    "is_trace_header",
    "message_ids",
    "normalise_message_id",
    "raw_headers",
    "thread_headers",
    "to_bytes",
]
