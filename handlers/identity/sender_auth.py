"""Sender authentication of the From domain: aligned DKIM, SPF and DMARC from trusted sources.

Authentication-Results count only from our own servers (``identity.trusted_authserv_ids``, our
receiver's ``mail.receiver.authserv_id``) and only where RFC 8601 section 5 puts them
(``trusted_headers``);
DKIM can be verified here with an injected DNS function, so nothing here opens a socket.
It proves the *domain* sent a mail, never the person: see ``levels``.
"""

from __future__ import annotations

import logging

import authres
import dkim

from handlers import lookalike
from handlers.identity.assessment import DnsTxt, MessageView, SenderAuth
from handlers.identity.trusted_headers import trusted_verdict
from handlers.lookalike import Flag
from handlers.policy import IdentityPolicy

log = logging.getLogger(__name__)


def authenticate_sender(
    parsed: MessageView,
    from_domain: str,
    settings: IdentityPolicy,
    *,
    raw: bytes | None = None,
    dns: DnsTxt | None = None,
    via_receiver: bool = False,
) -> SenderAuth:
    """Aligned DKIM / SPF / DMARC results for the From domain, from trusted sources only.

    Which Authentication-Results header is our server's verdict is decided by
    :func:`handlers.identity.trusted_headers.trusted_verdict` (RFC 8601 section 5); every other
    one is what the sender claims. ``via_receiver``: stored by our own SMTP/LMTP receiver.
    """
    verdict = trusted_verdict(parsed.headers, settings.trusted_authserv_ids,
                              receiver_id=settings.receiver_authserv_id,
                              via_receiver=via_receiver)
    flags: list[Flag] = list(verdict.flags)
    reasons: list[str] = list(verdict.reasons)
    used = _parse_authres(verdict.value) if verdict.value is not None else None
    if verdict.value is not None and used is None:
        reasons.append("Authentication-Results from our server could not be read")
    if any(f.code in ("untrusted_authres", "forged_authres") for f in flags):
        reasons.append("sender authentication results in the mail are claimed by the sender")
    dkim_aligned = spf_aligned = dmarc_pass = failed = False
    if used is not None and from_domain:
        dkim_aligned, spf_aligned, dmarc_pass, failed = _read_results(used, from_domain)
        summary = ", ".join(n for n, ok in (("DKIM aligned", dkim_aligned),
                                            ("SPF aligned", spf_aligned),
                                            ("DMARC", dmarc_pass)) if ok)
        reasons.append(f"our mail server reports: {summary or 'no aligned pass'}")
        if failed:
            flags.append(Flag("auth_failed", "our mail server reports a DMARC or DKIM failure"))
    elif not settings.trusted_authserv_ids and not settings.receiver_authserv_id:
        reasons.append("no trusted mail server configured (identity.trusted_authserv_ids)")
    direct = False
    if raw is not None and dns is not None and from_domain:
        direct, why = verify_dkim(raw, from_domain, dns)
        reasons.append(why)
    return SenderAuth(dkim_aligned, spf_aligned, dmarc_pass, direct, flags, reasons,
                      failed=failed and not (dkim_aligned or direct))


def verify_dkim(raw: bytes, from_domain: str, dns: DnsTxt) -> tuple[bool, str]:
    """Verify every DKIM signature; True when one passes for a domain aligned with From.

    Signatures with a body length limit (``l=``) are not counted: anything may be appended
    after the signed part of the body.
    """
    try:
        parsed = dkim.DKIM(raw)
        count = sum(1 for name, _ in parsed.headers if name.lower() == b"dkim-signature")
    except Exception:
        return False, "DKIM: message could not be read"
    if count == 0:
        return False, "DKIM: message is not signed"
    wanted = lookalike.org_domain(from_domain)
    outcome = "DKIM: no valid signature"
    for idx in range(count):
        checker = dkim.DKIM(raw)
        try:
            ok = checker.verify(idx, dnsfunc=dns)
        except Exception as exc:
            log.debug("dkim signature %d failed: %s", idx, exc.__class__.__name__)
            continue
        if not ok:
            continue
        domain = (checker.domain or b"").decode("ascii", "replace").lower()
        if checker.signature_fields.get(b"l") is not None:
            outcome = "DKIM: valid signature covers only part of the body (not counted)"
            continue
        if lookalike.org_domain(domain) == wanted:
            return True, "DKIM: valid signature aligned with the From domain"
        outcome = "DKIM: valid signature, but for another domain than From"
    return False, outcome


def _parse_authres(value: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + " ".join(value.split()))
    except Exception:
        return None


def _prop(result: object, ptype: str, name: str) -> str:
    for prop in getattr(result, "properties", []) or []:
        if prop.type == ptype and prop.name == name and prop.value:
            return str(prop.value).strip().lower()
    return ""


def _read_results(header: authres.AuthenticationResultsHeader, from_domain: str) -> tuple[
    bool, bool, bool, bool
]:
    """(aligned DKIM pass, aligned SPF pass, DMARC pass, a DMARC or DKIM failure)."""
    wanted = lookalike.org_domain(from_domain)
    dkim_ok = spf_ok = dmarc_ok = failed = False
    for result in header.results:
        method = (result.method or "").lower()
        outcome = (result.result or "").lower()
        if method in ("dkim", "dmarc") and outcome in ("fail", "permerror"):
            failed = True
        if outcome != "pass":
            continue
        if method == "dkim":
            domain = _prop(result, "header", "d") or _prop(result, "header", "i").rpartition("@")[2]
            dkim_ok = dkim_ok or (bool(domain) and lookalike.org_domain(domain) == wanted)
        elif method == "spf":
            domain = _prop(result, "smtp", "mailfrom").rpartition("@")[2]
            spf_ok = spf_ok or (bool(domain) and lookalike.org_domain(domain) == wanted)
        elif method == "dmarc":
            header_from = _prop(result, "header", "from")
            dmarc_ok = dmarc_ok or header_from == from_domain.lower()
    return dkim_ok, spf_ok, dmarc_ok, failed and not dmarc_ok
