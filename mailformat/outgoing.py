"""Build the RFC 5322 message for one outgoing letter, with no way for request text to add headers.

Why this module exists apart from the sender: the message is composed from the stored row alone
(:class:`OutgoingMail`, the value ``storage.outbox`` hands out), every header value passing
through ``mailformat.cleaning`` once more, with ``Date`` taken from when the row was written: a
resend after a crash produces the same bytes and the same Message-ID, which receivers
deduplicate. Pure functions on plain data: no database, no sockets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailformat.cleaning import (
    UnsafeValue,
    check_recipient,
    clean_content_type,
    clean_filename,
    clean_subject,
    thread_headers,
)
from mailformat.message_id import clean_message_id

__all__ = ["CANARY_HEADER", "OutAttachment", "OutgoingMail", "UnsafeValue", "compose",
           "is_forwarded_mail", "to_bytes"]


@dataclass(frozen=True)
class OutAttachment:
    """A file to send with a letter: an access report, an export, a refusal certificate."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingMail:
    """Everything the composer needs, detached from the database row it came from."""

    outbound_id: int
    message_id: str
    recipient: str
    subject: str
    body_text: str
    created_at: datetime
    case_id: str | None = None
    kind: str = ""
    body_html: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[OutAttachment, ...] = ()
    attempts: int = 0
    #: A mailbox canary probe carries our random token in :data:`CANARY_HEADER`.
    probe_token: str | None = None


#: The header of a canary probe: a random token we generated, recognised on the way back in
#: only when the database knows its hash (never trusted from the header alone).
CANARY_HEADER = "X-Dsrbot-Canary"
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def is_forwarded_mail(attachment: OutAttachment) -> bool:
    """A whole mail attached as ``message/rfc822`` (a forward), not a file."""
    return attachment.content_type.strip().lower() == "message/rfc822"


def compose(mail: OutgoingMail, *, from_address: str, from_name: str | None = None
            ) -> EmailMessage:
    """The message as it goes on the wire (``policy.SMTP``: CRLF, RFC 2047 encoded words).

    Raises :class:`UnsafeValue` when the recipient or our own From is not a valid address;
    the sender treats that as a permanent failure of this row.
    """
    recipient = check_recipient(mail.recipient)
    sender = check_recipient(from_address)
    message_id = clean_message_id(mail.message_id)
    if message_id is None:
        raise UnsafeValue("stored Message-ID is not a valid msg-id")

    msg = EmailMessage(policy=policy.SMTP)
    local, _, domain = sender.rpartition("@")
    display = clean_subject(from_name) if from_name else ""  # config, but checked all the same
    msg["From"] = Address(display_name=display, username=local, domain=domain)
    local, _, domain = recipient.rpartition("@")
    msg["To"] = Address(username=local, domain=domain)
    msg["Subject"] = clean_subject(mail.subject, case_id=mail.case_id)
    msg["Date"] = format_datetime(mail.created_at)
    msg["Message-ID"] = message_id
    for name, value in thread_headers(mail.in_reply_to, mail.references).items():
        msg[name] = value
    # RFC 3834: mark our mail as automatic so that well-behaved robots never answer it.
    msg["Auto-Submitted"] = "auto-replied" if mail.in_reply_to else "auto-generated"
    # Exchange and Outlook honour this instead of RFC 3834 (no out-of-office loops).
    msg["X-Auto-Response-Suppress"] = "All"
    if mail.probe_token is not None:
        if not mail.probe_token or not set(mail.probe_token) <= _TOKEN_CHARS:
            raise UnsafeValue("canary token is not a plain token")
        msg[CANARY_HEADER] = mail.probe_token

    msg.set_content(mail.body_text or "", subtype="plain", charset="utf-8", cte="quoted-printable")
    if mail.body_html:
        msg.add_alternative(mail.body_html, subtype="html", charset="utf-8",
                            cte="quoted-printable")
    for attachment in mail.attachments:
        if is_forwarded_mail(attachment):
            # A forwarded mail travels whole, headers included (RFC 2046 5.2.1), never
            # base64'd: customer service opens it as the mail it was.
            inner = message_from_bytes(attachment.data, policy=policy.compat32)
            msg.add_attachment(inner, disposition="attachment",
                               filename=clean_filename(attachment.filename))
            continue
        maintype, subtype = clean_content_type(attachment.content_type)
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                           filename=clean_filename(attachment.filename))
    _fix_boundaries(msg, message_id)
    _verify_header_block(msg)
    return msg


_OUR_HEADERS = frozenset({
    "from", "to", "subject", "date", "message-id", "in-reply-to", "references",
    "auto-submitted", "x-auto-response-suppress", "mime-version", "content-type",
    "content-transfer-encoding", CANARY_HEADER.lower(),
})


def _verify_header_block(msg: EmailMessage) -> None:
    """Belt and braces: the generated header block holds our headers, once each, nothing else.

    Newer CPython checks this itself (``verify_generated_headers``); 3.11.7 does not, and the
    checks above are only as good as our knowledge of the email package's folding.
    """
    # Fold the headers exactly as BytesGenerator writes them, without the (slow) body.
    head = b"".join(msg.policy.fold_binary(name, value) for name, value in msg.raw_items())
    names: list[str] = []
    for line in head.removesuffix(b"\r\n").split(b"\r\n"):
        if b"\r" in line or b"\n" in line:
            raise UnsafeValue("composed header block contains a bare line break")
        if line[:1] in (b" ", b"\t"):
            continue
        names.append(line.partition(b":")[0].decode("ascii", "replace").lower())
    if len(set(names)) != len(names) or not set(names) <= _OUR_HEADERS:
        raise UnsafeValue("composed header block holds headers we did not set")


def _fix_boundaries(msg: EmailMessage, message_id: str) -> None:
    """MIME boundaries derived from the Message-ID, so a resend is byte-for-byte the same.

    ``=_`` cannot occur in quoted-printable or base64 text, the only encodings we emit, so
    the boundary can never collide with a body line.
    """
    seed = hashlib.sha256(message_id.encode()).hexdigest()[:24]
    for index, part in enumerate(_our_multiparts(msg)):
        part.set_boundary(f"=_dsrbot_{seed}_{index}")


def _our_multiparts(part: EmailMessage) -> list[EmailMessage]:
    """Our own multipart containers; a forwarded mail inside keeps its boundaries."""
    if not part.is_multipart() or part.get_content_type() == "message/rfc822":
        return []
    found = [part]
    for child in part.iter_parts():
        found.extend(_our_multiparts(child))  # type: ignore[arg-type]
    return found


def to_bytes(msg: EmailMessage, *, linesep: str = "\r\n") -> bytes:
    """Serialise for SMTP (CRLF) or for a maildir file (``linesep="\\n"``)."""
    return msg.as_bytes(policy=msg.policy.clone(linesep=linesep))
