"""The trace our receiver writes above a message: its ``Received:`` line and its own verdict.

Why: an Authentication-Results header counts only when one of our servers wrote it, above every
``Received:`` line written outside (RFC 8601 section 5). A message that reaches our receiver
straight from the Internet may carry any header, including one that names our border MX, so the
receiver says where it came from (``peer=outside`` or ``peer=trusted-relay``, a peer listed in
``mail.receiver.trusted_relays``) and, for mail from outside, checks DKIM itself and writes the
result with its own authserv-id (``mail.receiver.authserv_id``). ``handlers.identity
.trusted_headers`` reads exactly this shape.

DNS is injectable (``dns``): tests serve the keys themselves and never reach the network.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from email.utils import format_datetime

import dkim

log = logging.getLogger(__name__)

DnsTxt = Callable[..., bytes | None]
#: Signatures checked per mail: each may cost a DNS round trip before we answer 250, and a mail
#: stacking forged ones must not hold the receiver (a genuine mail carries one or two).
MAX_DKIM_SIGNATURES = 5


def is_trusted_relay(peer: str, relays: Sequence[str]) -> bool:
    """Whether ``peer`` (an IP address) is in one of the ``relays`` (addresses or networks)."""
    try:
        address = ipaddress.ip_address(peer.strip("[]"))
    except ValueError:
        return False
    for relay in relays:
        try:
            if address in ipaddress.ip_network(relay, strict=False):
                return True
        except ValueError:
            continue
    return False


def dkim_result(raw: bytes, dns: DnsTxt | None) -> str:
    """``dkim=pass header.d=example.fi`` / ``dkim=fail`` / ``dkim=none`` for the first signature
    that verifies (or the last that did not); no ``l=`` signature counts as a pass."""
    try:
        count = sum(1 for name, _ in dkim.DKIM(raw).headers if name.lower() == b"dkim-signature")
    except Exception:
        return "dkim=permerror"
    if count == 0:
        return "dkim=none"
    for index in range(min(count, MAX_DKIM_SIGNATURES)):
        checker = dkim.DKIM(raw)
        try:
            ok = checker.verify(index, dnsfunc=dns) if dns else checker.verify(index)
        except Exception as exc:
            log.debug("receiver dkim check failed: %s", exc.__class__.__name__)
            continue
        if ok and checker.signature_fields.get(b"l") is None:
            domain = (checker.domain or b"").decode("ascii", "replace").lower()
            return f"dkim=pass header.d={domain}"
    return "dkim=fail"


def trace_headers(
    raw: bytes,
    *,
    peer: str,
    helo: str,
    authserv_id: str,
    protocol: str,
    trusted_relays: Sequence[str],
    now: datetime,
    dns: DnsTxt | None = None,
    check_dkim: bool = True,
) -> bytes:
    """Header lines to store above ``raw`` (CRLF), topmost first."""
    trusted = is_trusted_relay(peer, trusted_relays)
    where = "trusted-relay" if trusted else "outside"
    helo_token = "".join(ch for ch in (helo or "unknown") if ch.isalnum() or ch in ".-_[]:")[:80]
    peer_token = "".join(ch for ch in peer if ch.isalnum() or ch in ".:")[:60]
    lines = [f"Received: from {helo_token or 'unknown'} ([{peer_token}]) by {authserv_id} "
             f"(dsrbot; peer={where}) with {protocol.upper()}; {format_datetime(now)}"]
    if not trusted and check_dkim:
        lines.insert(0, f"Authentication-Results: {authserv_id}; {dkim_result(raw, dns)}")
    return "".join(f"{line}\r\n" for line in lines).encode("ascii", "replace")
