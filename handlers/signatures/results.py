"""What a signature check reads (message views) and what it finds (checks, results, states).

Shared by every format module, so none of them imports another just for the types.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

import pysequoia
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation.settings import KeyUsageConstraints

from mailformat import DsrbotError

log = logging.getLogger(__name__)

State = Literal["none", "valid", "invalid", "staff_to_check"]
Covers = Literal["", "mime_part", "clearsigned", "text", "attachment"]
T = TypeVar("T")

PGP_SIGNATURE_TYPES = frozenset({"application/pgp-signature"})
SMIME_SIGNATURE_TYPES = frozenset({"application/pkcs7-signature",
                                   "application/x-pkcs7-signature"})
SMIME_OPAQUE_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_CLEARSIGNED = re.compile(
    r"-----BEGIN PGP SIGNED MESSAGE-----(?:(?!-----BEGIN PGP SIGNED MESSAGE-----).)*?"
    r"-----END PGP SIGNATURE-----", re.DOTALL)
KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
                                 match_all_key_usages=False)
#: Larger attachments are not parsed as PDFs (staff look instead): bounds CPU per message.
MAX_PDF_BYTES = 25 * 1024 * 1024


class AttachmentView(Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def data(self) -> bytes: ...


class SignedPartView(Protocol):
    @property
    def protocol(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def signature(self) -> bytes: ...


class MessageView(Protocol):
    """The fields of ``handlers.parse.ParsedMessage`` this module reads."""

    @property
    def text(self) -> str: ...
    @property
    def attachments(self) -> Sequence[AttachmentView]: ...
    @property
    def signed_parts(self) -> Sequence[SignedPartView]: ...


class TrustConfigError(DsrbotError):
    """A trust file is missing or unreadable; the message names the file."""


@dataclass(frozen=True)
class TrustConfig:
    """What we trust: X.509 roots for S/MIME and PDF, OpenPGP certificates for PGP."""

    x509_roots: tuple[asn1_x509.Certificate, ...] = ()
    openpgp_certs: tuple[pysequoia.Cert, ...] = ()
    #: Validation time for X.509 chains (None: now). Tests and re-checks of old mail set it.
    moment: datetime | None = None
    #: Files that could not be loaded (reported on every check, so staff see the cause).
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignatureCheck:
    """One signature (or signature-like attachment) and what we found."""

    kind: Literal["openpgp", "smime", "pdf", "image", "pdf_unsigned"]
    state: State
    reason: str
    signer_emails: tuple[str, ...] = ()
    signer: str | None = None
    #: When the signer says it signed (OpenPGP creation time, CMS signing time), if known.
    signed_at: datetime | None = None
    #: What it signs: the signed MIME part, a clearsigned block or the body text, or an
    #: attachment (``handlers.signatures.binding`` decides whether that is this request).
    covers: Covers = ""
    #: The signed text, for ``mime_part`` and ``clearsigned``.
    covered_text: str = ""
    #: SHA-256 of the signature's bytes: one signature verifies one case only.
    fingerprint: str = ""


@dataclass(frozen=True)
class SignatureResult:
    state: State
    #: Who signed, for staff: a key fingerprint or certificate subject (None if nobody).
    signer: str | None = None
    reasons: list[str] = field(default_factory=list)
    #: Addresses bound to the valid signers (OpenPGP user ids, certificate e-mail fields).
    signer_emails: list[str] = field(default_factory=list)
    checks: list[SignatureCheck] = field(default_factory=list)


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a pyHanko coroutine to completion from synchronous code, even inside a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def short_error(exc: BaseException) -> str:
    """First line of an error (pysequoia appends a Rust backtrace), without personal data."""
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0][:200]}" if text else exc.__class__.__name__
