"""A signature counts for the text it signs (issue 21, item 2).

A trusted signature proves who signed *something*. It verifies a request only when that
something is this request and it was signed recently:

* what it covers: the body the classifier read (a PGP/MIME or S/MIME signed part containing the
  whole body text, a clearsigned block with no unsigned words around it, a detached signature
  over the text), or an attached letter when the mail's own words are not themselves a request
  (a cover note: "see the attached letter"); when the body asks for something, a signature over
  an attachment signs something else;
* when: the signer's own signing time within ``identity.signature_max_age_days`` before receipt
  (and not in the future); a signature without a signing time does not count.

Anything else is "signature valid but not over this request": recorded for staff, no
verification. One signature verifies one case (``storage.used_signatures``), checked by the
caller, which has the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from handlers.signatures.results import SignatureCheck, SignatureResult

#: Clock skew tolerated for a signing time after receipt.
FUTURE_SKEW = timedelta(hours=1)
NOT_OVER_REQUEST = "signature valid but not over this request"
_CLEARSIGNED = re.compile(
    r"-----BEGIN PGP SIGNED MESSAGE-----(?:(?!-----BEGIN PGP SIGNED MESSAGE-----).)*?"
    r"-----END PGP SIGNATURE-----", re.DOTALL)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Binding:
    """Whether a valid signature is bound to this request, and the one that is."""

    bound: bool
    fingerprint: str = ""
    reason: str = ""


def bind(result: SignatureResult, *, text: str, body_is_request: bool, received_at: datetime,
         max_age_days: int) -> Binding:
    """The first valid signature over this request signed within the age limit, if any.

    ``body_is_request``: the classifier found a request in the mail's own text, so the request
    is the body and a signature over an attachment does not sign it."""
    why = ""
    for check in result.checks:
        if check.state != "valid":
            continue
        problem = _not_bound(check, text, body_is_request, received_at, max_age_days)
        if problem is None:
            return Binding(True, check.fingerprint, "signature over this request")
        why = why or problem
    return Binding(False, "", f"{NOT_OVER_REQUEST}: {why}" if why else "")


def for_this_request(
    result: SignatureResult, *, text: str, body_is_request: bool, received_at: datetime,
    max_age_days: int, used_by: Callable[[str], str | None],
) -> tuple[SignatureResult, str]:
    """``result`` as identity must see it, and the fingerprint to record if it verifies a case.

    A valid signature counts only over this request, signed recently, and for one case only:
    ``used_by(fingerprint)`` names the case it already verified (the caller's database)."""
    if result.state != "valid":
        return result, ""
    bound = bind(result, text=text, body_is_request=body_is_request, received_at=received_at,
                 max_age_days=max_age_days)
    if not bound.bound:
        return unbound(result, bound.reason or NOT_OVER_REQUEST), ""
    earlier = used_by(bound.fingerprint)
    if earlier is not None:
        return unbound(result, f"{NOT_OVER_REQUEST}: it already verified case {earlier}"), ""
    return result, bound.fingerprint


def unbound(result: SignatureResult, reason: str) -> SignatureResult:
    """``result`` as the identity check must see it: a valid signature that verifies nothing."""
    return replace(result, state="invalid", signer_emails=[],
                   reasons=[*result.reasons, f"signature: {reason}"])


def _not_bound(check: SignatureCheck, text: str, body_is_request: bool, received_at: datetime,
               max_age_days: int) -> str | None:
    if check.signed_at is None:
        return "no signing time"
    signed_at = check.signed_at
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=received_at.tzinfo)
    if signed_at > received_at + FUTURE_SKEW:
        return "signed after it was received"
    if received_at - signed_at > timedelta(days=max_age_days):
        return f"signed more than {max_age_days} days before it was received"
    if check.covers == "text":
        return None
    if check.covers == "mime_part":
        return None if _contains(check.covered_text, text) else "the body is not all signed"
    if check.covers == "clearsigned":
        outside = _words(_CLEARSIGNED.sub(" ", text))
        return None if not outside else "unsigned words around the signed block"
    if check.covers == "attachment":
        if not body_is_request:
            return None
        return "it signs an attachment, and the request is in the unsigned mail"
    return "what it signs is unknown"


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


def _contains(signed: str, body: str) -> bool:
    wanted, have = " ".join(_words(body)), " ".join(_words(signed))
    return bool(have) and wanted in have
