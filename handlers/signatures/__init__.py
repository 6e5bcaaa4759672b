"""Is the request signed? OpenPGP, S/MIME and PDF signatures, checked offline against our roots.

The package, one job per module: ``results`` (what a check reads and finds), ``trust`` (loading
the configured roots and keys), ``openpgp``, ``smime`` and ``pades`` (one signature format each)
and ``check`` (every signature in a message, summarised). See ``check`` for the rules.
"""

from handlers.signatures.check import check_signatures, signer_matches
from handlers.signatures.results import (
    MAX_PDF_BYTES,
    PGP_SIGNATURE_TYPES,
    SMIME_OPAQUE_TYPES,
    SMIME_SIGNATURE_TYPES,
    AttachmentView,
    MessageView,
    SignatureCheck,
    SignatureResult,
    SignedPartView,
    State,
    TrustConfig,
    TrustConfigError,
)
from handlers.signatures.smime import certificate_emails
from handlers.signatures.trust import load_trust, load_x509_certificates, trust_from_settings

__all__ = [
    "MAX_PDF_BYTES", "PGP_SIGNATURE_TYPES", "SMIME_OPAQUE_TYPES", "SMIME_SIGNATURE_TYPES",
    "AttachmentView", "MessageView", "SignatureCheck", "SignatureResult", "SignedPartView",
    "State", "TrustConfig", "TrustConfigError", "certificate_emails", "check_signatures",
    "load_trust", "load_x509_certificates", "signer_matches", "trust_from_settings",
]
