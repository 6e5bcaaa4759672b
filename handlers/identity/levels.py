"""Who is asking: register match, sender authentication, look-alikes, and the one rule above all.

Levels, from weakest to strongest:

- ``none``: the From address is not exactly one customer's registered address. Names, phone
  numbers, customer numbers or addresses found in the text only give staff *candidates*.
- ``claimed``: From equals exactly one registered address, but nothing proves the mail came
  from that mailbox (a From header is trivially forged).
- ``authenticated``: as claimed, and the From domain is authenticated: an aligned DKIM pass or a
  DMARC pass, read from an Authentication-Results header added by one of OUR servers
  (``identity.trusted_authserv_ids``) or from DKIM verified here. That proves the *domain*
  sent it, not the person: a colleague on the same domain, a shared or delegated mailbox, or a
  compromised server still passes. So it is recorded, shown to staff, and it is **not** enough
  to send personal data or to change the register.
- ``verified``: the holder of the registered mailbox answered the one-time challenge sent to it
  (:mod:`handlers.challenge`), a staff member vouched, or the request carries a signature
  that validates against our trust roots and names the registered address.

The rule above all (:func:`may_send_personal_data`, :func:`may_change_register`): personal
data goes only to the registered address of a verified customer, and only a verified request
changes the register. This is deliberately stricter than "DKIM-aligned mail from the
registered address"; the cost is one round trip to the customer's own mailbox, the gain is that
no forged, relayed or same-domain mail can obtain or alter anyone's data (EDPB Guidelines
01/2022: link the request to the channel already known; Pavur & Knerr 2019, Di Martino et al.
2019: a quarter of organisations disclosed data to impostors).

Everything here is a pure function of the message, the customers passed in and the settings;
DNS for DKIM is an injected function, so nothing here opens a socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from email.utils import getaddresses

from handlers import lookalike
from handlers.fields import normalise_email
from handlers.identity.assessment import (
    LEVELS,
    DnsTxt,
    IdentityAssessment,
    Level,
    MessageView,
    SignatureView,
)
from handlers.identity.sender_auth import authenticate_sender
from handlers.lookalike import Flag
from handlers.policy import IdentityPolicy
from storage.models import Case, Customer


def assess_identity(
    parsed: MessageView,
    registered: Sequence[Customer],
    candidates: Sequence[Customer],
    settings: IdentityPolicy,
    *,
    raw: bytes | None = None,
    dns: DnsTxt | None = None,
    signature: SignatureView | None = None,
    protected_addresses: Sequence[str] = (),
    via_receiver: bool = False,
) -> IdentityAssessment:
    """Assess one inbound message.

    ``registered``: customers whose registered address equals the From address
    (``storage.register.customers_by_email``). ``candidates``: customers found from the text
    (``storage.candidates.find_candidates``), for staff only. ``raw`` and ``dns`` enable direct
    DKIM verification. ``signature`` is the result of ``handlers.signatures.check_signatures``.
    ``protected_addresses`` are our own addresses (look-alikes of our domain are flagged).
    ``via_receiver``: stored by our own SMTP/LMTP receiver (see ``trusted_headers``).
    """
    sender = normalise_email(parsed.from_address or "")
    flags: list[Flag] = list(_header_flags(parsed))
    reasons: list[str] = []
    from_ambiguous = any(f.code in ("several_from_headers", "several_from_addresses")
                         for f in flags)

    matches = [c for c in registered if sender and _registered_address(c) == sender]
    customer: Customer | None = matches[0] if len(matches) == 1 else None
    level: Level = "none"
    if customer is not None and not from_ambiguous:
        level = "claimed"
        reasons.append("From address equals a registered address (a claim, not a proof)")
    elif len(matches) > 1:
        flags.append(Flag("address_shared",
                          "several customers share this registered address: staff to choose"))
    elif customer is not None:
        reasons.append("From is ambiguous, so the register match is not used")
        customer = None
    else:
        reasons.append("From address is not in the register")

    candidate_ids = _candidate_ids(matches if customer is None else [], candidates, customer)
    if candidate_ids:
        reasons.append(f"{len(candidate_ids)} register candidate(s) from the text for staff")

    known = [_registered_address(c) for c in (*registered, *candidates)]
    own = [normalise_email(a) for a in protected_addresses]
    _, sender_domain = lookalike.split_address(sender)
    if customer is None:
        flags += lookalike.address_flags(sender, known)
        flags += lookalike.domain_flags(
            sender_domain, [lookalike.split_address(a)[1] for a in (*known, *own)])
    else:
        flags += lookalike.domain_flags(sender_domain, [lookalike.split_address(a)[1]
                                                        for a in own])
    flags += lookalike.text_flags(parsed.text, [sender, *known, *own])

    auth = authenticate_sender(parsed, sender_domain, settings, raw=raw, dns=dns,
                               via_receiver=via_receiver)
    flags += auth.flags
    reasons += auth.reasons
    sender_ok = auth.passed and not from_ambiguous
    if level == "claimed" and sender_ok:
        level = "authenticated"

    if signature is not None and signature.state == "valid":
        signer_matches = customer is not None and _registered_address(customer) in {
            normalise_email(e) for e in signature.signer_emails}
        if signer_matches and level in ("claimed", "authenticated"):
            level = "verified"
            reasons.append("signed with a trusted key or certificate for the registered address")
        elif customer is None:
            flags.append(Flag("signed_but_unmatched",
                              "valid signature, but the sender is not matched to the register"))
        elif not signer_matches:
            flags.append(Flag("signer_not_customer",
                              "valid signature, but the signer is not the registered address"))

    flags = lookalike.unique_flags(flags)
    return IdentityAssessment(
        level=level,
        customer_id=customer.id if customer is not None else None,
        candidate_ids=candidate_ids,
        flags=[f.code for f in flags],
        reasons=reasons + [f.reason for f in flags],
        sender_authenticated=sender_ok,
        sender_auth_failed=auth.failed,
    )


def mark_verified(assessment: IdentityAssessment, customer_id: int, reason: str) -> (
    IdentityAssessment
):
    """The assessment after a confirmed challenge or a staff decision for ``customer_id``."""
    return replace(assessment, level="verified", customer_id=customer_id,
                   reasons=[*assessment.reasons, reason])


def case_assessment(case: Case) -> IdentityAssessment:
    """What the case row records (after a challenge or staff verification).

    Use it to act on the request types of THIS case. A later mail that joins the case must
    not inherit the verification for new request types: assess that mail on its own.
    """
    level: Level = "none"
    for known in LEVELS:
        if case.verification_level == known:
            level = known
    if case.customer_id is None:
        level = "none"
    return IdentityAssessment(level=level, customer_id=case.customer_id,
                              reasons=[f"case records identity level {level}"])


def may_send_personal_data(
    assessment: IdentityAssessment, recipient: str, customer: Customer
) -> bool:
    """Only to the registered address of a verified customer; everyone else gets nothing.

    Pass the customer as re-read from the register at sending time, and the exact address the
    mail will go to. Anything unusual (no address, an erased customer, a recipient with a
    display name, a list or a line break) is a refusal, never a guess.
    """
    if assessment.level != "verified" or assessment.customer_id is None:
        return False
    if customer.id is None or customer.id != assessment.customer_id:
        return False
    if customer.anonymised_at is not None:
        return False
    registered = _registered_address(customer)
    if not registered or not recipient or not _is_plain_address(recipient):
        return False
    return _same_mailbox(recipient, customer.email or "")


def may_change_register(assessment: IdentityAssessment) -> bool:
    """The register changes (rectify, erase, restrict, bans) only on a verified request."""
    return assessment.level == "verified" and assessment.customer_id is not None


def _registered_address(customer: Customer) -> str:
    if customer.anonymised_at is not None:
        return ""
    return customer.email_normalised or normalise_email(customer.email or "")


def _same_mailbox(recipient: str, registered: str) -> bool:
    """The address exactly as registered, ignoring only ASCII case.

    Deliberately stricter than the NFKC match used to *recognise* a sender: mail servers do not
    fold a full-width or otherwise Unicode-variant local part, so such a look-alike is another
    mailbox and must never receive data.
    """
    r, g = recipient.strip(), registered.strip()
    if r == g:
        return True
    return r.isascii() and g.isascii() and r.lower() == g.lower()


def _is_plain_address(recipient: str) -> bool:
    """One bare addr-spec: no display name, no list, no whitespace or control characters."""
    if any(ch in recipient for ch in "<>,;\"()[]\\") or any(
        ch.isspace() or ord(ch) < 32 for ch in recipient
    ):
        return False
    local, at, domain = recipient.rpartition("@")
    return bool(at and local and domain and "@" not in local)


def _candidate_ids(
    ambiguous: Sequence[Customer], candidates: Sequence[Customer], matched: Customer | None
) -> list[int]:
    ids: list[int] = []
    for c in (*ambiguous, *candidates):
        if c.id is not None and c.id not in ids and (matched is None or c.id != matched.id):
            ids.append(c.id)
    return ids


def _header_flags(parsed: MessageView) -> list[Flag]:
    from_values = [v for n, v in parsed.headers if n.lower() == "from"]
    senders = [v for n, v in parsed.headers if n.lower() == "sender"]
    addresses = [a for _, a in getaddresses(from_values[:1]) if a] if from_values else []
    return lookalike.header_flags(
        parsed.from_address or "",
        from_display=parsed.from_display or "",
        reply_to=list(parsed.reply_to or []),
        from_header_count=len(from_values),
        from_addresses_in_header=max(len(addresses), 1),
        sender_header=senders[0] if senders else None,
    )

