"""The one-time confirmation that links a request to the address already in the register.

Why this shape (EDPB Guidelines 01/2022 on the right of access, and Fides' identity codes):
- The code goes to **the registered address**, never to the sender or to an address named in the
  mail: whoever controls that mailbox is the person the register knows. That is the only
  recipient :func:`challenge_recipient` ever returns.
- Codes come from :mod:`secrets` (80 bits; 16 Crockford base-32 symbols, easy to read aloud and
  to type), are stored as SHA-256 hashes, expire (``identity.challenge_ttl_hours``), allow
  ``identity.challenge_max_attempts`` wrong tries, are compared with
  :func:`secrets.compare_digest`, and work once.
- A correct code that arrives from an address other than the registered one is treated as a
  leaked code: the challenge is revoked, nothing is confirmed, staff see why.

Every outcome writes an audit entry (ids, counts and reasons only; never the code or an address).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlmodel import Session

from handlers.fields import normalise_email
from handlers.policy import IdentityPolicy
from mailformat import DsrbotError
from storage import audit, challenges
from storage.models import Case, Customer, IdentityChallenge

#: Crockford base 32: no I, L, O or U, so a code read aloud or retyped survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS = 4
GROUP_LEN = 4
#: 16 symbols x 5 bits = 80 bits: guessing within the attempt limit is hopeless.
CODE_BITS = GROUPS * GROUP_LEN * 5

_DECODE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEP = r"[-\u2010\u2011\u2012\u2013\u2014 ]"
_GROUP = r"[0-9A-Za-z]{4}"
_CODE_RE = re.compile(
    rf"(?<![0-9A-Za-z-])({_GROUP}){_SEP}({_GROUP}){_SEP}({_GROUP}){_SEP}({_GROUP})(?![0-9A-Za-z-])"
)
#: At most this many distinct codes are taken from one reply: each wrong one costs an attempt.
MAX_CODES_PER_TEXT = 3

Outcome = Literal["ok", "wrong", "expired", "exhausted", "no_challenge", "wrong_sender"]


class ChallengeError(DsrbotError):
    """No challenge can be sent (e.g. the customer has no address in the register)."""


@dataclass(frozen=True)
class ConfirmResult:
    """What a confirmation attempt achieved; ``ok`` is the only outcome that verifies."""

    outcome: Outcome
    case_id: str
    customer_id: int | None = None
    attempts_left: int = 0
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def new_code() -> str:
    """A fresh code such as ``7KQ2-M9XD-0PAW-3RNB``."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN))
    return "-".join(symbols[i : i + GROUP_LEN] for i in range(0, len(symbols), GROUP_LEN))


def normalise_code(code: str) -> str | None:
    """Canonical form (upper case, Crockford look-alikes mapped, hyphens); None if not a code."""
    match = _CODE_RE.fullmatch(code.strip())
    if match is None:
        return None
    groups = [g.upper().translate(_DECODE) for g in match.groups()]
    if any(ch not in ALPHABET for g in groups for ch in g):
        return None
    return "-".join(groups)


def hash_code(code: str) -> str:
    """SHA-256 of the canonical code. No salt needed: an 80-bit random code cannot be
    brute-forced from its hash, and a stored hash is useless without the code."""
    canonical = normalise_code(code) or code
    return hashlib.sha256(canonical.encode("ascii", "replace")).hexdigest()


def find_codes(text: str) -> list[str]:
    """Codes in a reply (quoted or retyped; any case; hyphens, dashes or spaces between groups).

    Only the 4x4 grouped shape counts, so long words and hashes in a mail are not mistaken for
    codes (each wrong candidate would spend an attempt).
    """
    found: list[str] = []
    for match in _CODE_RE.finditer(text or ""):
        code = normalise_code(match.group(0))
        if code and code not in found:
            found.append(code)
            if len(found) == MAX_CODES_PER_TEXT:
                break
    return found


def challenge_recipient(customer: Customer) -> str:
    """The only address a challenge may go to: the one already in the register."""
    if customer.anonymised_at is not None or not customer.email.strip():
        raise ChallengeError("the customer has no email address in the register")
    return customer.email.strip()


def issue_challenge(
    session: Session,
    case: Case,
    customer: Customer,
    now: datetime,
    *,
    settings: IdentityPolicy | None = None,
    actor: str = audit.BOT_ACTOR,
) -> tuple[IdentityChallenge, str]:
    """Create a challenge for ``case`` and return it with the plain code (to mail, never store).

    Mail the code to :func:`challenge_recipient` ``(customer)``; any earlier open challenge of
    the case stops working.
    """
    settings = settings or IdentityPolicy()
    challenge_recipient(customer)  # refuse before creating anything
    if customer.id is None:
        raise ChallengeError("the customer is not stored")
    code = new_code()
    row, superseded = challenges.create(
        session, case_id=case.id, customer_id=customer.id, code_hash=hash_code(code),
        expires_at=now + timedelta(hours=settings.challenge_ttl_hours),
        max_attempts=settings.challenge_max_attempts, now=now,
    )
    audit.record(
        session, actor, "identity.challenge_issued", case_id=case.id,
        customer_number=customer.customer_number,
        details={"challenge_id": row.id, "ttl_hours": settings.challenge_ttl_hours,
                 "max_attempts": settings.challenge_max_attempts, "superseded": superseded,
                 "sent_to": "registered address"},
        at=now,
    )
    return row, code


def confirm_challenge(
    session: Session,
    case_id: str,
    code: str,
    now: datetime,
    *,
    sender: str | None = None,
    actor: str = audit.BOT_ACTOR,
) -> ConfirmResult:
    """Check ``code`` against the case's newest challenge; on success mark the case verified.

    ``sender`` is the From address of the reply that carried the code; when given, it must be
    the customer's registered address (a correct code from elsewhere revokes the challenge).
    """
    row = challenges.latest_for_case(session, case_id)
    if row is None or row.consumed_at is not None:
        return _done(session, actor, case_id, row, "no_challenge",
                     "no open confirmation for this case", now)
    left = max(row.max_attempts - row.attempts, 0)
    if left == 0:
        return _done(session, actor, case_id, row, "exhausted", "attempt limit reached", now)
    if _aware(row.expires_at) <= now:
        return _done(session, actor, case_id, row, "expired", "confirmation code expired", now)
    candidate = normalise_code(code)
    matches = candidate is not None and secrets.compare_digest(hash_code(candidate), row.code_hash)
    if not matches:
        challenges.record_failed_attempt(session, row)
        left = max(row.max_attempts - row.attempts, 0)
        outcome: Outcome = "wrong" if left else "exhausted"
        return _done(session, actor, case_id, row, outcome, "wrong confirmation code", now, left)
    customer = session.get(Customer, row.customer_id)
    registered = normalise_email(customer.email) if customer is not None else ""
    if customer is None or customer.anonymised_at is not None or not registered:
        challenges.consume(session, row, now)
        return _done(session, actor, case_id, row, "no_challenge",
                     "the customer no longer has a registered address", now)
    if sender is not None and normalise_email(sender) != registered:
        challenges.consume(session, row, now)
        return _done(session, actor, case_id, row, "wrong_sender",
                     "correct code sent from an address other than the registered one; "
                     "confirmation revoked (code may have leaked)", now)
    challenges.consume(session, row, now)
    case = session.get(Case, case_id)
    if case is not None:
        case.verification_level = "verified"
        if case.customer_id is None:
            case.customer_id = row.customer_id
        case.updated_at = now
        session.add(case)
        session.flush()
    return _done(session, actor, case_id, row, "ok",
                 "identity confirmed: code returned from the registered address", now, left)


def record_staff_verification(
    session: Session, case: Case, customer: Customer, *, actor: str, reason: str,
    now: datetime,
) -> None:
    """A staff member vouches for the requester (e.g. checked a signed letter or called the
    customer on the registered phone number). Attributed and audited like any decision."""
    if customer.id is None:
        raise ChallengeError("the customer is not stored")
    case.verification_level = "verified"
    case.customer_id = customer.id
    case.updated_at = now
    session.add(case)
    session.flush()
    audit.record(session, actor, "identity.verified_by_staff", case_id=case.id,
                 customer_number=customer.customer_number, details={"reason": reason}, at=now)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _done(
    session: Session, actor: str, case_id: str, row: IdentityChallenge | None, outcome: Outcome,
    reason: str, now: datetime, left: int = 0,
) -> ConfirmResult:
    customer_number = None
    if row is not None:
        customer = session.get(Customer, row.customer_id)
        customer_number = customer.customer_number if customer is not None else None
    details: dict[str, object] = {"outcome": outcome, "reason": reason}
    if row is not None:
        details.update(challenge_id=row.id, attempts=row.attempts, attempts_left=left)
    audit.record(session, actor, f"identity.challenge_{outcome}", case_id=case_id,
                 customer_number=customer_number, details=details, at=now)
    return ConfirmResult(outcome, case_id, row.customer_id if row is not None else None, left,
                         (reason,))
