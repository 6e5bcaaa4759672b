"""What a parse returns: the message, its attachments and signed parts, and the one error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailformat import DsrbotError


class MalformedMessage(DsrbotError):
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
