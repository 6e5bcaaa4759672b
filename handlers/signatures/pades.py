"""PDF signatures (pyHanko PAdES): every signature in an attached PDF, covering the whole file.
"""

from __future__ import annotations

import io
import logging

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from handlers.signatures.results import (
    KEY_USAGE,
    MAX_PDF_BYTES,
    SignatureCheck,
    TrustConfig,
    run_coroutine,
    short_error,
)
from handlers.signatures.smime import cms_check, validation_context

log = logging.getLogger(__name__)


def pdf_check(data: bytes, trust: TrustConfig) -> SignatureCheck:
    if len(data) > MAX_PDF_BYTES:
        return SignatureCheck("pdf", "staff_to_check", "PDF too large to check automatically")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            return SignatureCheck("pdf", "staff_to_check", "PDF is encrypted: staff to check")
        signatures = list(reader.embedded_signatures)
    except Exception as exc:
        log.debug("pdf unreadable: %s", short_error(exc))
        return SignatureCheck("pdf_unsigned", "staff_to_check",
                              "PDF could not be read: staff to check")
    if not signatures:
        return SignatureCheck("pdf_unsigned", "staff_to_check",
                              "PDF without a digital signature (a scanned signed letter?): "
                              "signature: staff to check")
    results = []
    for embedded in signatures:
        try:
            status = run_coroutine(async_validate_pdf_signature(
                embedded, signer_validation_context=validation_context(trust),
                key_usage_settings=KEY_USAGE))
        except Exception as exc:
            log.debug("pdf signature validation failed: %s", short_error(exc))
            results.append(SignatureCheck("pdf", "invalid", "PDF signature does not verify"))
            continue
        check = cms_check("pdf", "PDF signature", status)
        if check.state == "valid" and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            check = SignatureCheck("pdf", "invalid",
                                   "PDF signature is valid but the document was changed after "
                                   "it was signed")
        results.append(check)
    bad = [r for r in results if r.state != "valid"]
    return bad[0] if bad else results[-1]
