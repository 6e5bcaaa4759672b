"""Moved to the leaf package ``mailformat`` (cleaning, message_id, outgoing); names kept here
so older imports (``from handlers.compose import compose``) go on working."""

from mailformat.cleaning import (
    MAX_FILENAME_CHARS,
    MAX_SUBJECT_CHARS,
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
from mailformat.message_id import (
    MAX_MESSAGE_ID_CHARS,
    MAX_REFERENCES,
    clean_message_id,
    clean_message_ids,
)
from mailformat.outgoing import OutAttachment, OutgoingMail, compose, to_bytes

__all__ = [
    "MAX_FILENAME_CHARS", "MAX_MESSAGE_ID_CHARS", "MAX_REFERENCES", "MAX_SUBJECT_CHARS",
    "THREADING_HEADERS", "OutAttachment", "OutgoingMail", "UnsafeValue", "check_domain",
    "check_recipient", "clean_content_type", "clean_filename", "clean_message_id",
    "clean_message_ids", "clean_subject", "compose", "domain_of", "thread_headers", "to_bytes",
]
