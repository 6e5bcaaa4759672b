"""Mail formats: the leaf package every layer may import, and that imports none of ours.

Why a leaf: storage (dedupe keys, the outbox row's checks), handlers (the parse, threading) and
bot (delivery) all need the same rules for headers and Message-IDs. Kept apart from all three,
those rules exist once and no import runs against the layers (``[tool.importlinter]``).
"""

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
from mailformat.errors import DsrbotError
from mailformat.headers import HeaderFacts, first_address, header_facts, raw_headers
from mailformat.message_id import (
    clean_message_id,
    clean_message_ids,
    message_ids,
    normalise_message_id,
)
from mailformat.outgoing import OutAttachment, OutgoingMail, compose, to_bytes

__all__ = [
    "THREADING_HEADERS", "DsrbotError", "HeaderFacts", "OutAttachment", "OutgoingMail",
    "UnsafeValue",
    "check_domain", "check_recipient", "clean_content_type", "clean_filename",
    "clean_message_id", "clean_message_ids", "clean_subject", "clean_text", "compose",
    "decode_bytes", "domain_of", "first_address", "header_facts", "message_ids",
    "normalise_message_id", "raw_headers", "thread_headers", "to_bytes",
]
