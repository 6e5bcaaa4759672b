"""Build the RFC 5322 message for one outgoing letter, with no way for request text to add headers.

Why this module exists apart from the sender: subjects, recipients and threading ids come from
mail that strangers wrote, so every value that reaches a header passes through one of the
checks here (``clean_subject``, ``check_recipient``, ``clean_message_ids``). They run twice:
when the row is enqueued (so a bad row is never stored) and again when it is composed (so a row
written by some other path cannot smuggle a header either). The message is composed from the
row alone, with ``Date`` taken from when the row was written: a resend after a crash produces
the same bytes and the same Message-ID, which receivers deduplicate.

Pure functions on plain data: no database, no sockets.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from email_validator import EmailNotValidError, validate_email

#: Longest subject we write (after cleaning); long request subjects are cut, not refused.
MAX_SUBJECT_CHARS = 300
#: References kept when threading: the first (thread root) and the most recent ones.
MAX_REFERENCES = 20
MAX_MESSAGE_ID_CHARS = 250
MAX_FILENAME_CHARS = 120

#: Headers a stored row may carry in its ``headers`` JSON; anything else is ignored.
THREADING_HEADERS = ("In-Reply-To", "References")

_MSGID_BODY = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+")  # visible ASCII except < and >
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_MIME_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}"
_MIME_TYPE = re.compile(f"{_MIME_TOKEN}/{_MIME_TOKEN}")
_WHITESPACE_RUN = re.compile(r"\s+")
_FILENAME_BAD = re.compile(r"[\\/:*?\"<>|]")


class UnsafeValue(ValueError):
    """A value that cannot go into a header (refused recipient, bad domain). Says which check."""


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


def _is_unsafe_char(ch: str) -> bool:
    # Cc: C0/C1 controls incl. CR, LF, TAB, NUL, DEL; Zl/Zp: U+2028/U+2029, which
    # str.splitlines() (and so the email package) treats as line breaks.
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def clean_subject(subject: str, *, case_id: str | None = None) -> str:
    """One line of printable text, the case tag in front exactly once.

    Control characters (CR and LF first of all: ``"Hi\\r\\nBcc: x"``) become spaces, so the
    words stay readable while no new header line can begin.
    """
    text = _one_line(subject)
    if "=?" in text:
        # RFC 2047 encoded words in the text itself: the email package (before CPython
        # 3.11.10/3.12.5, gh-121650) decodes them when it folds the header and writes the
        # decoded CR LF raw, so "=?utf-8?q?Hi=0D=0ABcc:...?=" would add a Bcc header.
        # Show the decoded words (they were meant to be read), then break every "=?" left.
        text = _one_line(_decode_words(text)).replace("=?", "= ?")
    if case_id:
        tag = f"[{case_id}]"
        if tag.lower() not in text.lower():
            text = f"{tag} {text}".strip()
    if len(text) > MAX_SUBJECT_CHARS:
        text = text[: MAX_SUBJECT_CHARS - 1].rstrip() + "…"
    return text


def _one_line(text: str) -> str:
    text = "".join(" " if _is_unsafe_char(ch) else ch for ch in text)
    return _WHITESPACE_RUN.sub(" ", text).strip()


def _decode_words(text: str) -> str:
    try:
        return str(policy.default.header_factory("subject", text))
    except Exception:  # malformed encoded words: keep the text as it was
        return text


def check_recipient(recipient: str) -> str:
    """Return the one addr-spec ``recipient`` names, normalised; refuse anything else.

    Refused: display names, lists (``a@x, b@y``), group syntax, quoted or empty local parts,
    domain literals, control characters or whitespace anywhere, non-ASCII local parts (they
    need SMTPUTF8, which we do not rely on). Internationalised domains come back as A-labels.
    """
    if not recipient or len(recipient) > 320:
        raise UnsafeValue("recipient is empty or longer than 320 characters")
    if any(_is_unsafe_char(ch) or ch.isspace() for ch in recipient):
        raise UnsafeValue("recipient contains whitespace or control characters")
    if any(ch in recipient for ch in ",;<>()[]\"\\:"):
        raise UnsafeValue("recipient is not a single plain address")
    try:
        result = validate_email(
            recipient,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            allow_empty_local=False,
            globally_deliverable=False,
        )
    except EmailNotValidError as exc:
        raise UnsafeValue(f"recipient is not a valid address: {exc}") from None
    address = result.ascii_email or result.normalized
    if not address or not address.isascii():
        raise UnsafeValue("recipient cannot be written in ASCII")
    return address


def check_domain(domain: str) -> str:
    """A hostname for the right side of our Message-IDs."""
    domain = domain.strip().lower()
    if not _HOSTNAME.fullmatch(domain):
        raise UnsafeValue("message-id domain is not a hostname")
    return domain


def domain_of(address: str) -> str:
    """The domain of our From address (``info@rusttet.fi`` -> ``rusttet.fi``)."""
    return check_domain(address.rpartition("@")[2])


def clean_message_id(value: str) -> str | None:
    """``<id@host>`` when ``value`` is one plausible msg-id, else None (threading: best effort)."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    if not value or len(value) > MAX_MESSAGE_ID_CHARS or not _MSGID_BODY.fullmatch(value):
        return None
    if "=?" in value:
        # The header parser decodes RFC 2047 words even inside msg-ids and folds the decoded
        # text raw (see clean_subject): such an id could carry a CR LF into our headers.
        return None
    return f"<{value}>"


def clean_message_ids(values: Iterable[str]) -> list[str]:
    """Valid ids in order, duplicates dropped, trimmed to the root plus the newest ones.

    A References header may arrive as one string with several ids; those are split first.
    """
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        for token in re.findall(r"<[^<>]*>|[^\s<>]+", value):
            mid = clean_message_id(token)
            if mid and mid not in seen:
                seen.add(mid)
                out.append(mid)
    if len(out) > MAX_REFERENCES:
        out = [out[0], *out[-(MAX_REFERENCES - 1):]]
    return out


def thread_headers(in_reply_to: str | None, references: Sequence[str] | None) -> dict[str, str]:
    """In-Reply-To and References for a reply (RFC 5322 3.6.4): parent's refs + parent's id."""
    parent = clean_message_id(in_reply_to) if in_reply_to else None
    refs = clean_message_ids(references or [])
    if parent and parent not in refs:
        refs = clean_message_ids([*refs, parent])
    headers: dict[str, str] = {}
    if parent:
        headers["In-Reply-To"] = parent
    if refs:
        headers["References"] = " ".join(refs)
    return headers


def clean_filename(filename: str) -> str:
    """A plain file name: no path, no control or reserved characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if _is_unsafe_char(ch) else ch for ch in name)
    name = _FILENAME_BAD.sub("_", name).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME_CHARS - len(ext) - 1] + dot + ext) if dot else name[
            :MAX_FILENAME_CHARS]
    return name or "attachment"


def clean_content_type(content_type: str) -> tuple[str, str]:
    """``(maintype, subtype)``; anything unrecognisable is sent as application/octet-stream.

    ``multipart/*`` and ``message/*`` are containers, not files: sent base64-encoded they
    would break RFC 2046, so they go as octet-stream too (the file name keeps its extension).
    """
    value = content_type.strip().lower().split(";", 1)[0].strip()
    if not _MIME_TYPE.fullmatch(value) or value.startswith(("multipart/", "message/")):
        return ("application", "octet-stream")
    maintype, subtype = value.split("/", 1)
    return (maintype, subtype)


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

    msg.set_content(mail.body_text or "", subtype="plain", charset="utf-8", cte="quoted-printable")
    if mail.body_html:
        msg.add_alternative(mail.body_html, subtype="html", charset="utf-8",
                            cte="quoted-printable")
    for attachment in mail.attachments:
        maintype, subtype = clean_content_type(attachment.content_type)
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                           filename=clean_filename(attachment.filename))
    _fix_boundaries(msg, message_id)
    _verify_header_block(msg)
    return msg


_OUR_HEADERS = frozenset({
    "from", "to", "subject", "date", "message-id", "in-reply-to", "references",
    "auto-submitted", "x-auto-response-suppress", "mime-version", "content-type",
    "content-transfer-encoding",
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
    for index, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_dsrbot_{seed}_{index}")


def to_bytes(msg: EmailMessage, *, linesep: str = "\r\n") -> bytes:
    """Serialise for SMTP (CRLF) or for a maildir file (``linesep="\\n"``)."""
    return msg.as_bytes(policy=msg.policy.clone(linesep=linesep))
