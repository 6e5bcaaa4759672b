"""S/MIME signatures (pyHanko's CMS validation), offline against ``identity.trusted_certificates``.

Nothing is fetched (no OCSP, CRL or AIA): ``ValidationContext(allow_fetching=False)``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation.generic_cms import (
    async_validate_cms_signature,
    async_validate_detached_cms,
)
from pyhanko.sign.validation.status import StandardCMSSignatureStatus
from pyhanko_certvalidator import ValidationContext

from handlers.fields import normalise_email
from handlers.signatures.openpgp import crlf
from handlers.signatures.results import (
    KEY_USAGE,
    SignatureCheck,
    TrustConfig,
    run_coroutine,
    short_error,
)

log = logging.getLogger(__name__)





def validation_context(trust: TrustConfig) -> ValidationContext:
    return ValidationContext(trust_roots=list(trust.x509_roots), allow_fetching=False,
                             moment=trust.moment)


def smime_detached(content: bytes, signature: bytes, trust: TrustConfig) -> SignatureCheck:
    signed_data = _signed_data(signature)
    if signed_data is None:
        return SignatureCheck("smime", "invalid", "S/MIME signature unreadable")
    best: StandardCMSSignatureStatus | None = None
    for data in dict.fromkeys((content, crlf(content))):
        try:
            status = run_coroutine(async_validate_detached_cms(
                data, signed_data, signer_validation_context=validation_context(trust),
                key_usage_settings=KEY_USAGE))
        except Exception as exc:  # pyHanko raises many kinds on hostile input
            log.debug("smime validation failed: %s", short_error(exc))
            continue
        if status.intact:
            best = status
            break
        best = best or status
    return cms_check("smime", "S/MIME signature", best)


def smime_opaque(data: bytes, trust: TrustConfig) -> SignatureCheck:
    signed_data = _signed_data(data)
    if signed_data is None:
        return SignatureCheck("smime", "staff_to_check",
                              "S/MIME message that is not signed data (encrypted?)")
    try:
        status = run_coroutine(async_validate_cms_signature(
            signed_data, status_cls=StandardCMSSignatureStatus,
            validation_context=validation_context(trust), key_usage_settings=KEY_USAGE))
    except Exception as exc:
        log.debug("opaque smime validation failed: %s", short_error(exc))
        return SignatureCheck("smime", "invalid", "S/MIME signed data does not verify")
    return cms_check("smime", "S/MIME signed data", status)


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


def cms_check(kind: Literal["smime", "pdf"], what: str, status: Any) -> SignatureCheck:
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
                          tuple(certificate_emails(cert)), _subject(cert),
                          signed_at=getattr(status, "signer_reported_dt", None))


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
        log.debug("certificate e-mail fields unreadable: %s", short_error(exc))
    return list(dict.fromkeys(e for e in emails if "@" in e))


def _subject(cert: asn1_x509.Certificate) -> str:
    try:
        return f"X.509 certificate serial {cert.serial_number:x}"
    except Exception:
        return "X.509 certificate"
