"""Is the request signed? OpenPGP, S/MIME and PDF signatures, checked offline against our roots.

The privacy notice requires access and rectification requests to be signed. What counts:

- OpenPGP (pysequoia): a clearsigned text, PGP/MIME (``multipart/signed``), or a detached
  ``.asc``/``.sig`` over the body or over an attachment; only keys listed in
  ``identity.trusted_openpgp_keys`` can make it valid.
- S/MIME (pyHanko's CMS validation; ``cryptography`` cannot verify S/MIME): ``multipart/signed``
  with ``application/pkcs7-signature``, or opaque ``application/pkcs7-mime`` signed data; the
  chain must end in ``identity.trusted_certificates``. Nothing is fetched (no OCSP, CRL or AIA):
  ``ValidationContext(trust_roots=..., allow_fetching=False)``.
- PDF (pyHanko PAdES): every signature in an attached PDF, covering the whole file.
- A photo or scan (``image/*``, or a PDF without a digital signature) may be a hand-signed
  letter: ``staff_to_check``. No program can judge a handwritten signature.

States: ``none`` (nothing signed), ``valid``, ``invalid`` (tampered, or signed by a key or
certificate we do not trust), ``staff_to_check``. With several signatures, one invalid makes
the whole ``invalid`` (something in the mail was altered or is unknown); reasons list each.
Signer addresses are returned so the caller can compare them with the registered address
(:func:`signer_matches`); they are personal data and must not go into reasons or logs.

pyHanko is asynchronous; :func:`check_signatures` runs its coroutines on a private event loop
(in a worker thread when called from inside a running loop), so callers stay synchronous.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import io
import logging
import re
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import pysequoia
from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.generic_cms import (
    async_validate_cms_signature,
    async_validate_detached_cms,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel, StandardCMSSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pysequoia.packet import PacketPile

from handlers.fields import normalise_email
from handlers.policy import IdentityPolicy
from storage.models import Customer

log = logging.getLogger(__name__)

State = Literal["none", "valid", "invalid", "staff_to_check"]
T = TypeVar("T")

PGP_SIGNATURE_TYPES = frozenset({"application/pgp-signature"})
SMIME_SIGNATURE_TYPES = frozenset({"application/pkcs7-signature",
                                   "application/x-pkcs7-signature"})
SMIME_OPAQUE_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_CLEARSIGNED = re.compile(
    r"-----BEGIN PGP SIGNED MESSAGE-----.*?-----END PGP SIGNATURE-----", re.DOTALL)
_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
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


class TrustConfigError(Exception):
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


@dataclass(frozen=True)
class SignatureResult:
    state: State
    #: Who signed, for staff: a key fingerprint or certificate subject (None if nobody).
    signer: str | None = None
    reasons: list[str] = field(default_factory=list)
    #: Addresses bound to the valid signers (OpenPGP user ids, certificate e-mail fields).
    signer_emails: list[str] = field(default_factory=list)
    checks: list[SignatureCheck] = field(default_factory=list)


# -- trust ---------------------------------------------------------------------------------


def load_trust(identity: IdentityPolicy, *, base_dir: Path | None = None) -> TrustConfig:
    """Load the configured trust files; raise :class:`TrustConfigError` naming a bad file.

    Use at start-up (or ``dsrbot check``) so a typo in a path stops the service instead of
    silently making every signature untrusted.
    """
    trust = trust_from_settings(identity, base_dir=base_dir)
    if trust.problems:
        raise TrustConfigError("; ".join(trust.problems))
    return trust


def trust_from_settings(
    identity: IdentityPolicy, *, base_dir: Path | None = None
) -> TrustConfig:
    """The trust configuration, never raising: unreadable files become ``problems``.

    Cached per list of files and their modification times, so calling it for every message
    costs a few ``stat`` calls, and an operator's edit takes effect without a restart.
    """
    def resolve(paths: Iterable[Path]) -> tuple[tuple[str, float], ...]:
        out = []
        for path in paths:
            full = path if path.is_absolute() or base_dir is None else base_dir / path
            try:
                mtime = full.stat().st_mtime
            except OSError:
                mtime = -1.0
            out.append((str(full), mtime))
        return tuple(out)

    return _load_trust_cached(resolve(identity.trusted_certificates),
                              resolve(identity.trusted_openpgp_keys))


@functools.lru_cache(maxsize=8)
def _load_trust_cached(
    cert_files: tuple[tuple[str, float], ...], pgp_files: tuple[tuple[str, float], ...]
) -> TrustConfig:
    roots: list[asn1_x509.Certificate] = []
    certs: list[pysequoia.Cert] = []
    problems: list[str] = []
    for name, _ in cert_files:
        try:
            roots.extend(load_x509_certificates(Path(name).read_bytes()))
        except (OSError, ValueError) as exc:
            problems.append(f"identity.trusted_certificates: {name}: {_short(exc)}")
    for name, _ in pgp_files:
        try:
            certs.extend(pysequoia.Cert.split_bytes(Path(name).read_bytes()))
        except (OSError, RuntimeError, ValueError) as exc:
            problems.append(f"identity.trusted_openpgp_keys: {name}: {_short(exc)}")
    return TrustConfig(tuple(roots), tuple(certs), problems=tuple(problems))


def load_x509_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """Every certificate in a PEM bundle or one DER certificate."""
    if pem.detect(data):
        found = [asn1_x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, True)
                 if kind == "CERTIFICATE"]
    else:
        found = [asn1_x509.Certificate.load(data)]
    for cert in found:
        cert.native  # noqa: B018  (parses fully now, so a broken file fails here)
    if not found:
        raise ValueError("no certificate in file")
    return found


# -- the check -----------------------------------------------------------------------------


#: pyHanko loggers that write certificate subjects (people's names) and tracebacks.
_NOISY_LOGGERS = ("pyhanko.sign.validation.generic_cms", "pyhanko.sign.validation.pdf_embedded",
                  "pyhanko.sign.validation", "pyhanko_certvalidator")


class _NoPersonalData(logging.Filter):
    """Rewrites pyHanko's path-building warnings, which name the certificate's subject."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = f"{record.name}: signature validation problem (details withheld)"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return record.levelno >= logging.WARNING


def _quiet_third_party_logs() -> None:
    """Install :class:`_NoPersonalData` once per logger (idempotent)."""
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoPersonalData) for f in logger.filters):
            logger.addFilter(_NoPersonalData())


def check_signatures(parsed: MessageView, trust: TrustConfig) -> SignatureResult:
    """Check every signature in the message; never raises for bad input."""
    _quiet_third_party_logs()
    checks: list[SignatureCheck] = []
    signature_blobs = set()
    for part in getattr(parsed, "signed_parts", None) or ():
        signature_blobs.add(part.signature)
        protocol = (part.protocol or "").lower()
        if protocol in PGP_SIGNATURE_TYPES:
            checks.append(_pgp_detached([_crlf(part.content), part.content], part.signature,
                                        trust, "PGP/MIME signature"))
        elif protocol in SMIME_SIGNATURE_TYPES:
            checks.append(_smime_detached(part.content, part.signature, trust))
    attachments = list(parsed.attachments or ())
    by_name = {a.filename.lower(): a for a in attachments if a.filename}
    for att in attachments:
        if att.data in signature_blobs:
            continue
        checks.extend(_check_attachment(att, by_name, parsed.text or "", trust))
    for block in _CLEARSIGNED.findall(parsed.text or ""):
        checks.append(_pgp_clearsigned(block, trust, "clearsigned text"))
    return _summarise(checks, trust)


def signer_matches(result: SignatureResult, customer: Customer) -> bool:
    """True when a valid signature is bound to the customer's registered address."""
    if result.state != "valid" or customer.anonymised_at is not None:
        return False
    registered = customer.email_normalised or normalise_email(customer.email or "")
    return bool(registered) and registered in {normalise_email(e) for e in result.signer_emails}


def _check_attachment(
    att: AttachmentView, by_name: dict[str, AttachmentView], text: str, trust: TrustConfig
) -> list[SignatureCheck]:
    ctype = (att.content_type or "").lower()
    name = (att.filename or "").lower()
    if ctype in PGP_SIGNATURE_TYPES or name.endswith((".asc", ".sig", ".gpg")):
        if b"-----BEGIN PGP SIGNED MESSAGE-----" in att.data:
            return [_pgp_clearsigned(att.data.decode("utf-8", "replace"), trust,
                                     "clearsigned attachment")]
        if b"-----BEGIN PGP PUBLIC KEY BLOCK-----" in att.data:
            return []
        target = by_name.get(name.rsplit(".", 1)[0]) if "." in name else None
        if target is not None:
            return [_pgp_detached([target.data], att.data, trust,
                                  "detached OpenPGP signature over an attachment")]
        return [_pgp_detached(_text_variants(text), att.data, trust,
                              "detached OpenPGP signature over the text")]
    if ctype in SMIME_OPAQUE_TYPES or name.endswith(".p7m"):
        return [_smime_opaque(att.data, trust)]
    if ctype in SMIME_SIGNATURE_TYPES or name.endswith(".p7s"):
        target = by_name.get(name.rsplit(".", 1)[0])
        if target is not None:
            return [_smime_detached(target.data, att.data, trust)]
        return [SignatureCheck("smime", "staff_to_check",
                               "S/MIME signature attached without the part it signs")]
    if ctype == "application/pdf" or name.endswith(".pdf"):
        return [_pdf(att.data, trust)]
    if ctype.startswith("image/"):
        return [SignatureCheck("image", "staff_to_check",
                               "image attached (a photo or scan of a signed letter?): "
                               "signature: staff to check")]
    return []


def _summarise(checks: list[SignatureCheck], trust: TrustConfig) -> SignatureResult:
    reasons = [f"signature: {c.reason}" for c in checks]
    reasons += [f"signature trust configuration: {p}" for p in trust.problems]
    states = {c.state for c in checks}
    state: State
    if "invalid" in states:
        state = "invalid"
    elif "valid" in states:
        state = "valid"
    elif "staff_to_check" in states:
        state = "staff_to_check"
    else:
        state = "none"
        reasons.append("signature: none found")
    valid = [c for c in checks if c.state == "valid"]
    emails = list(dict.fromkeys(e for c in valid for e in c.signer_emails))
    signer = valid[0].signer if valid and state == "valid" else None
    return SignatureResult(state, signer, reasons, emails if state == "valid" else [], checks)


# -- OpenPGP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PgpStore:
    """Key lookup for pysequoia: only our trusted certificates, matched by key id."""

    by_key: dict[str, pysequoia.Cert]
    by_primary: dict[str, pysequoia.Cert]

    @classmethod
    def build(cls, certs: Sequence[pysequoia.Cert]) -> _PgpStore:
        by_key: dict[str, pysequoia.Cert] = {}
        by_primary: dict[str, pysequoia.Cert] = {}
        for cert in certs:
            by_primary[cert.fingerprint.lower()] = cert
            try:
                packets = list(PacketPile.from_bytes(bytes(cert)))
            except (RuntimeError, ValueError):
                packets = []
            for packet in packets:
                fpr = packet.fingerprint
                if fpr:
                    by_key[fpr.lower()] = cert
                    by_key[fpr.lower()[-16:]] = cert
        return cls(by_key, by_primary)

    def lookup(self, key_ids: Sequence[str], asked: list[str]) -> list[pysequoia.Cert]:
        asked.extend(key_ids)
        found = []
        for key_id in key_ids:
            cert = self.by_key.get(str(key_id).lower()) or self.by_key.get(
                str(key_id).lower()[-16:])
            if cert is not None and cert not in found and not cert.is_revoked:
                found.append(cert)
        return found


@functools.lru_cache(maxsize=8)
def _pgp_store(certs: tuple[pysequoia.Cert, ...]) -> _PgpStore:
    return _PgpStore.build(certs)


def _pgp_verify(
    trust: TrustConfig, what: str, call: Any
) -> SignatureCheck:
    store = _pgp_store(trust.openpgp_certs)
    asked: list[str] = []
    try:
        result = call(lambda ids: store.lookup(ids, asked))
    except (RuntimeError, ValueError, TypeError) as exc:
        known = any(store.by_key.get(k.lower()) or store.by_key.get(k.lower()[-16:])
                    for k in asked)
        if asked and not known:
            return SignatureCheck("openpgp", "invalid",
                                  f"{what}: signed by a key that is not trusted "
                                  "(identity.trusted_openpgp_keys)")
        log.debug("openpgp verification failed: %s", _short(exc))
        return SignatureCheck("openpgp", "invalid",
                              f"{what}: does not verify (altered or malformed)")
    emails: list[str] = []
    signer = None
    for sig in result.valid_sigs:
        cert = store.by_primary.get(str(sig.certificate).lower())
        if cert is None:
            continue
        signer = signer or f"OpenPGP key {cert.fingerprint.upper()}"
        emails += [e for e in (_uid_email(str(u)) for u in cert.user_ids) if e]
    if not result.valid_sigs:
        return SignatureCheck("openpgp", "invalid", f"{what}: no valid signature")
    return SignatureCheck("openpgp", "valid", f"{what}: valid, by a trusted OpenPGP key",
                          tuple(dict.fromkeys(emails)), signer)


def _pgp_clearsigned(block: str, trust: TrustConfig, what: str) -> SignatureCheck:
    data = block.encode("utf-8", "replace")
    return _pgp_verify(trust, what, lambda store: pysequoia.verify(bytes=data, store=store))


def _pgp_detached(
    candidates: Sequence[bytes], signature: bytes, trust: TrustConfig, what: str
) -> SignatureCheck:
    try:
        sig = pysequoia.Sig.from_bytes(signature)
    except (RuntimeError, ValueError) as exc:
        return SignatureCheck("openpgp", "invalid", f"{what}: unreadable ({_short(exc)})")
    first: SignatureCheck | None = None
    for data in dict.fromkeys(candidates):
        check = _pgp_verify(trust, what, lambda store, data=data: pysequoia.verify(
            bytes=data, store=store, signature=sig))
        if check.state == "valid":
            return check
        first = first or check
    return first or SignatureCheck("openpgp", "invalid", f"{what}: nothing to verify")


def _uid_email(uid: str) -> str:
    _, address = parseaddr(uid)
    return normalise_email(address) if "@" in address else ""


def _text_variants(text: str) -> list[bytes]:
    """The body as the signer's program may have hashed it (line ends, final newline)."""
    base = text.replace("\r\n", "\n")
    out = []
    for body in (base, base + "\n", base.rstrip("\n"), base.rstrip("\n") + "\n"):
        for variant in (body, body.replace("\n", "\r\n")):
            out.append(variant.encode("utf-8"))
    return list(dict.fromkeys(out))


def _crlf(data: bytes) -> bytes:
    """RFC 3156 / 5751 canonical form: every line ends in CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


# -- S/MIME and PDF (pyHanko) ----------------------------------------------------------------


def _context(trust: TrustConfig) -> ValidationContext:
    return ValidationContext(trust_roots=list(trust.x509_roots), allow_fetching=False,
                             moment=trust.moment)


def _smime_detached(content: bytes, signature: bytes, trust: TrustConfig) -> SignatureCheck:
    signed_data = _signed_data(signature)
    if signed_data is None:
        return SignatureCheck("smime", "invalid", "S/MIME signature unreadable")
    best: StandardCMSSignatureStatus | None = None
    for data in dict.fromkeys((content, _crlf(content))):
        try:
            status = _run(async_validate_detached_cms(
                data, signed_data, signer_validation_context=_context(trust),
                key_usage_settings=_KEY_USAGE))
        except Exception as exc:  # pyHanko raises many kinds on hostile input
            log.debug("smime validation failed: %s", _short(exc))
            continue
        if status.intact:
            best = status
            break
        best = best or status
    return _cms_check("smime", "S/MIME signature", best)


def _smime_opaque(data: bytes, trust: TrustConfig) -> SignatureCheck:
    signed_data = _signed_data(data)
    if signed_data is None:
        return SignatureCheck("smime", "staff_to_check",
                              "S/MIME message that is not signed data (encrypted?)")
    try:
        status = _run(async_validate_cms_signature(
            signed_data, status_cls=StandardCMSSignatureStatus,
            validation_context=_context(trust), key_usage_settings=_KEY_USAGE))
    except Exception as exc:
        log.debug("opaque smime validation failed: %s", _short(exc))
        return SignatureCheck("smime", "invalid", "S/MIME signed data does not verify")
    return _cms_check("smime", "S/MIME signed data", status)


def _signed_data(data: bytes) -> cms.SignedData | None:
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        info = cms.ContentInfo.load(data)
        if info["content_type"].native != "signed_data":
            return None
        signed = info["content"]
        signed.native  # noqa: B018  (forces a full parse: a broken structure fails here)
        return signed if isinstance(signed, cms.SignedData) else None
    except Exception:
        return None


def _cms_check(kind: Literal["smime", "pdf"], what: str, status: Any) -> SignatureCheck:
    if status is None:
        return SignatureCheck(kind, "invalid", f"{what} could not be validated")
    if not status.intact or not status.valid:
        return SignatureCheck(kind, "invalid", f"{what} does not match the signed content")
    if not status.bottom_line:
        return SignatureCheck(kind, "invalid",
                              f"{what} is intact, but its certificate does not lead to a "
                              "trusted root (identity.trusted_certificates) or is not valid "
                              "for signing")
    cert = status.signing_cert
    return SignatureCheck(kind, "valid", f"{what}: valid, certificate from a trusted root",
                          tuple(certificate_emails(cert)), _subject(cert))


def _pdf(data: bytes, trust: TrustConfig) -> SignatureCheck:
    if len(data) > MAX_PDF_BYTES:
        return SignatureCheck("pdf", "staff_to_check", "PDF too large to check automatically")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            return SignatureCheck("pdf", "staff_to_check", "PDF is encrypted: staff to check")
        signatures = list(reader.embedded_signatures)
    except Exception as exc:
        log.debug("pdf unreadable: %s", _short(exc))
        return SignatureCheck("pdf_unsigned", "staff_to_check",
                              "PDF could not be read: staff to check")
    if not signatures:
        return SignatureCheck("pdf_unsigned", "staff_to_check",
                              "PDF without a digital signature (a scanned signed letter?): "
                              "signature: staff to check")
    results = []
    for embedded in signatures:
        try:
            status = _run(async_validate_pdf_signature(
                embedded, signer_validation_context=_context(trust),
                key_usage_settings=_KEY_USAGE))
        except Exception as exc:
            log.debug("pdf signature validation failed: %s", _short(exc))
            results.append(SignatureCheck("pdf", "invalid", "PDF signature does not verify"))
            continue
        check = _cms_check("pdf", "PDF signature", status)
        if check.state == "valid" and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            check = SignatureCheck("pdf", "invalid",
                                   "PDF signature is valid but the document was changed after "
                                   "it was signed")
        results.append(check)
    bad = [r for r in results if r.state != "valid"]
    return bad[0] if bad else results[-1]


def certificate_emails(cert: asn1_x509.Certificate) -> list[str]:
    """E-mail addresses a certificate binds: SAN rfc822Name entries and subject emailAddress."""
    emails: list[str] = []
    try:
        san = cert.subject_alt_name_value
        for name in san or []:
            if name.name == "rfc822_name":
                emails.append(normalise_email(str(name.native)))
        for rdn in cert.subject.chosen:
            for attr in rdn:
                if attr["type"].native == "email_address":
                    emails.append(normalise_email(str(attr["value"].native)))
    except Exception as exc:
        log.debug("certificate e-mail fields unreadable: %s", _short(exc))
    return list(dict.fromkeys(e for e in emails if "@" in e))


def _subject(cert: asn1_x509.Certificate) -> str:
    try:
        return f"X.509 certificate serial {cert.serial_number:x}"
    except Exception:
        return "X.509 certificate"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a pyHanko coroutine to completion from synchronous code, even inside a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _short(exc: BaseException) -> str:
    """First line of an error (pysequoia appends a Rust backtrace), without personal data."""
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0][:200]}" if text else exc.__class__.__name__
