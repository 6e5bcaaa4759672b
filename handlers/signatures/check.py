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

import email
import hashlib
import logging
from dataclasses import replace
from datetime import datetime
from email import policy

from handlers.fields import normalise_email
from handlers.signatures.openpgp import (
    clearsigned_text,
    crlf,
    pgp_clearsigned,
    pgp_detached,
    pgp_signed_at,
    text_variants,
)
from handlers.signatures.pades import pdf_check
from handlers.signatures.results import (
    _CLEARSIGNED,
    PGP_SIGNATURE_TYPES,
    SMIME_OPAQUE_TYPES,
    SMIME_SIGNATURE_TYPES,
    AttachmentView,
    Covers,
    MessageView,
    SignatureCheck,
    SignatureResult,
    State,
    TrustConfig,
)
from handlers.signatures.smime import smime_detached, smime_opaque
from storage.models import Customer

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
        covered = _part_text(part.content)
        if protocol in PGP_SIGNATURE_TYPES:
            checks.append(_mark(pgp_detached(
                [crlf(part.content), part.content], part.signature, trust,
                "PGP/MIME signature"), "mime_part", part.signature, covered_text=covered,
                signed_at=pgp_signed_at(part.signature)))
        elif protocol in SMIME_SIGNATURE_TYPES:
            checks.append(_mark(smime_detached(part.content, part.signature, trust),
                                "mime_part", part.signature, covered_text=covered))
    attachments = list(parsed.attachments or ())
    by_name = {a.filename.lower(): a for a in attachments if a.filename}
    for att in attachments:
        if att.data in signature_blobs:
            continue
        checks.extend(_check_attachment(att, by_name, parsed.text or "", trust))
    for block in _CLEARSIGNED.findall(parsed.text or ""):
        data = block.encode("utf-8", "replace")
        checks.append(_mark(pgp_clearsigned(block, trust, "clearsigned text"), "clearsigned",
                            data, covered_text=clearsigned_text(block),
                            signed_at=pgp_signed_at(data)))
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
    """The checks for one attachment, each marked with what it covers (see ``binding``)."""
    ctype = (att.content_type or "").lower()
    name = (att.filename or "").lower()
    if ctype in PGP_SIGNATURE_TYPES or name.endswith((".asc", ".sig", ".gpg")):
        if b"-----BEGIN PGP SIGNED MESSAGE-----" in att.data:
            return [_mark(pgp_clearsigned(att.data.decode("utf-8", "replace"), trust,
                                          "clearsigned attachment"), "attachment", att.data,
                          signed_at=pgp_signed_at(att.data))]
        if b"-----BEGIN PGP PUBLIC KEY BLOCK-----" in att.data:
            return []
        when = pgp_signed_at(att.data)
        target = by_name.get(name.rsplit(".", 1)[0]) if "." in name else None
        if target is not None:
            return [_mark(pgp_detached([target.data], att.data, trust,
                                       "detached OpenPGP signature over an attachment"),
                          "attachment", att.data, signed_at=when)]
        return [_mark(pgp_detached(text_variants(text), att.data, trust,
                                   "detached OpenPGP signature over the text"),
                      "text", att.data, covered_text=text, signed_at=when)]
    if ctype in SMIME_OPAQUE_TYPES or name.endswith(".p7m"):
        return [_mark(smime_opaque(att.data, trust), "attachment", att.data)]
    if ctype in SMIME_SIGNATURE_TYPES or name.endswith(".p7s"):
        target = by_name.get(name.rsplit(".", 1)[0])
        if target is not None:
            return [_mark(smime_detached(target.data, att.data, trust), "attachment", att.data)]
        return [SignatureCheck("smime", "staff_to_check",
                               "S/MIME signature attached without the part it signs")]
    if ctype == "application/pdf" or name.endswith(".pdf"):
        return [_mark(pdf_check(att.data, trust), "attachment", att.data)]
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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mark(check: SignatureCheck, covers: Covers, signature: bytes, *, covered_text: str = "",
          signed_at: datetime | None = None) -> SignatureCheck:
    """``check`` with what it covers and the fingerprint of its bytes (see ``binding``)."""
    return replace(check, covers=covers, covered_text=covered_text,
                   fingerprint=sha256(signature), signed_at=signed_at or check.signed_at)


def _part_text(content: bytes) -> str:
    """The text of a signed MIME entity (its text/plain parts), to compare with the body."""
    try:
        entity = email.message_from_bytes(content, policy=policy.default)
        texts = []
        for part in entity.walk():
            if part.get_content_type() == "text/plain" and not part.get_filename():
                texts.append(str(part.get_content()))
        return "\n".join(texts)
    except Exception:
        return ""
