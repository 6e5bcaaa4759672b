"""Which Authentication-Results header is our server's verdict (RFC 8601 section 5), if any.

Anyone can write an Authentication-Results header; only its *position* and *uniqueness* tell
whether one of our servers wrote it. Headers are prepended as a message travels, so what our
servers add stands above every ``Received:`` line that an outside server (or the sender) wrote.
The rule read here:

* exactly one header in the whole message may carry one of our authserv-ids
  (``identity.trusted_authserv_ids``, plus our own receiver's ``mail.receiver.authserv_id``);
  two claiming ours make both untrusted (one of them is a forgery, and we cannot tell which);
* that header must stand above the first ``Received:`` line not added by our servers;
* mail that reached our own receiver straight from outside (its ``Received:`` line says
  ``peer=outside``) carries no trusted header except the one our receiver wrote above it.

Everything else is what the sender *claims* and is shown to staff as such.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from handlers.lookalike import Flag

#: The comment our receiver writes in its ``Received:`` line (see ``bot/mail/receiver.py``).
PEER_MARK = re.compile(r"\(dsrbot; peer=(trusted-relay|outside)\)")
_BY = re.compile(r"\bby\s+([^\s;()]+)", re.I)


@dataclass(frozen=True)
class TrustedVerdict:
    """The one trusted Authentication-Results value (without the header name), or None."""

    value: str | None
    authserv_id: str = ""
    flags: list[Flag] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def authserv_id(value: str) -> str:
    """The authserv-id: the first token before ``;`` (read even when the rest is malformed)."""
    head = re.sub(r"\([^()]*\)", " ", value.split(";", 1)[0]).split()
    return head[0].strip().lower() if head else ""


def received_by(value: str) -> str:
    match = _BY.search(re.sub(r"\([^()]*\)", " ", value))
    return match.group(1).strip().lower().rstrip(".") if match else ""


def trusted_verdict(
    headers: Sequence[tuple[str, str]],
    trusted_ids: Sequence[str],
    *,
    receiver_id: str = "",
    via_receiver: bool = False,
) -> TrustedVerdict:
    """Our server's Authentication-Results, chosen as the module docstring says.

    ``headers`` in message order (top first). ``via_receiver``: the message was stored by our
    own SMTP/LMTP receiver, so its topmost ``Received:`` line may be the receiver's.
    """
    servers = {t.strip().lower() for t in trusted_ids if t.strip()}
    receiver = receiver_id.strip().lower()
    zone_end = _zone_end(headers, servers, receiver, via_receiver)
    ours = servers | ({receiver} if receiver and via_receiver else set())
    claims: list[tuple[int, str, str]] = []
    others = 0
    for index, (name, value) in enumerate(headers):
        if name.lower() != "authentication-results":
            continue
        serv = authserv_id(value)
        if serv in ours or (serv and serv == receiver):
            claims.append((index, value, serv))
        else:
            others += 1
    flags: list[Flag] = []
    reasons: list[str] = []
    if others:
        flags.append(Flag("untrusted_authres", "Authentication-Results not added by our "
                          "servers: claimed by the sender, ignored"))
    if len(claims) > 1:
        flags.append(Flag("forged_authres", "several Authentication-Results claim our server: "
                          "all are claimed by the sender, none trusted"))
        return TrustedVerdict(None, flags=flags, reasons=reasons)
    if not claims:
        return TrustedVerdict(None, flags=flags, reasons=reasons)
    index, value, serv = claims[0]
    if index >= zone_end or serv not in ours:
        flags.append(Flag("forged_authres", "an Authentication-Results header claiming our "
                          "server stands below a Received line our servers did not add: "
                          "claimed by the sender, ignored"))
        return TrustedVerdict(None, flags=flags, reasons=reasons)
    return TrustedVerdict(value, serv, flags, reasons)


def _zone_end(
    headers: Sequence[tuple[str, str]], servers: set[str], receiver: str, via_receiver: bool
) -> int:
    """Index of the first ``Received:`` line our servers did not add (len(headers) if none)."""
    first = True
    for index, (name, value) in enumerate(headers):
        if name.lower() != "received":
            continue
        by = received_by(value)
        if first and via_receiver and receiver and by == receiver:
            first = False
            mark = PEER_MARK.search(value)
            if mark is None or mark.group(1) != "trusted-relay":
                return index  # straight from outside: only what our receiver wrote above it
            continue
        first = False
        if by not in servers:
            return index
    return len(headers)
