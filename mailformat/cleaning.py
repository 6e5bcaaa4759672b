"""Checks for every value that reaches a header of a letter we send.

Why a module of its own, in the leaf package: subjects, recipients and threading ids come from
mail that strangers wrote, so every value that reaches a header passes through one of these
checks. They run when a row is enqueued (``storage.outbox``, so a bad row is never stored) and
again when it is composed (``mailformat.outgoing``, so a row written by some other path cannot
smuggle a header either). Pure functions on strings: no database, no sockets.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from email import policy

from mailformat.errors import DsrbotError
from mailformat.message_id import MAX_REFERENCES, clean_message_id, clean_message_ids

__all__ = [
    "MAX_FILENAME_CHARS", "MAX_REFERENCES", "MAX_SUBJECT_CHARS", "THREADING_HEADERS",
    "UnsafeValue", "check_domain", "check_recipient", "clean_content_type", "clean_filename",
    "clean_subject", "domain_of", "is_unsafe_char", "thread_headers",
]

#: Longest subject we write (after cleaning); long request subjects are cut, not refused.
MAX_SUBJECT_CHARS = 300
MAX_FILENAME_CHARS = 120

#: Headers a stored row may carry in its ``headers`` JSON; anything else is ignored.
THREADING_HEADERS = ("In-Reply-To", "References")

#: A hostname's labels; its length (at most 253) is checked before, not by a lookahead that
#: would scan 253 characters from every start.
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_MIME_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}"
_MIME_TYPE = re.compile(f"{_MIME_TOKEN}/{_MIME_TOKEN}")
_WHITESPACE_RUN = re.compile(r"\s+")
_FILENAME_BAD = re.compile(r"[\\/:*?\"<>|]")


class UnsafeValue(DsrbotError):
    """A value that cannot go into a header (refused recipient, bad domain). Says which check."""



def is_unsafe_char(ch: str) -> bool:
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
    text = "".join(" " if is_unsafe_char(ch) else ch for ch in text)
    return _WHITESPACE_RUN.sub(" ", text).strip()


def _decode_words(text: str) -> str:
    try:
        return str(policy.default.header_factory("subject", text))
    except Exception:  # malformed encoded words: keep the text as it was
        return text


def check_recipient(recipient: str) -> str:
    """Return the one addr-spec ``recipient`` names, normalised; refuse anything else.

    Remembered for the latest addresses (a pure function of the string, no DNS): a request's
    receipt checks its sender's address twice (whether it is writable, then the letter).

    Refused: display names, lists (``a@x, b@y``), group syntax, quoted or empty local parts,
    domain literals, control characters or whitespace anywhere, non-ASCII local parts (they
    need SMTPUTF8, which we do not rely on). Internationalised domains come back as A-labels.
    """
    return _checked_recipient(recipient)


@functools.lru_cache(maxsize=1024)
def _checked_recipient(recipient: str) -> str:
    if not recipient or len(recipient) > 320:
        raise UnsafeValue("recipient is empty or longer than 320 characters")
    if any(is_unsafe_char(ch) or ch.isspace() for ch in recipient):
        raise UnsafeValue("recipient contains whitespace or control characters")
    if any(ch in recipient for ch in ",;<>()[]\"\\:"):
        raise UnsafeValue("recipient is not a single plain address")
    # Imported here: most CLI commands import mailformat and never check a recipient.
    from email_validator import EmailNotValidError, validate_email

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
    if not 0 < len(domain) <= 253 or not _HOSTNAME.fullmatch(domain):
        raise UnsafeValue("message-id domain is not a hostname")
    return domain


def domain_of(address: str) -> str:
    """The domain of our From address (``info@rusttet.fi`` -> ``rusttet.fi``)."""
    return check_domain(address.rpartition("@")[2])


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
    name = "".join("_" if is_unsafe_char(ch) else ch for ch in name)
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


def reachable_address(address: str) -> bool:
    """Whether to mail the sender at all: a letter entered by staff without an email address
    carries a placeholder under the reserved ``.invalid`` domain (RFC 2606) that no one owns."""
    return bool(address) and not address.lower().rstrip(">").endswith(".invalid")


def writable_address(address: str) -> bool:
    """Whether outgoing mail can be addressed to ``address`` (ASCII, or an IDN domain)."""
    try:
        check_recipient(address)
    except UnsafeValue:
        return False
    return True
