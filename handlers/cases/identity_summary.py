"""One account of who the requester is, for every view of a case.

Why one function: the console (``dsrbot case``), the chat card, its Details and the staff desk
used to read identity from different places (the case row, the intake snapshot in
``case.details``, the intake reasons), so they disagreed once a code came back. Here the level
is the case row's (what the rights handlers act on), the matched customer is the case row's or,
before verification, the customer the case's confirmation is for (its newest challenge, mailed
or still held for the hourly letter), and the events are the case's audit trail: the record
every channel writes, including "code letter queued" while a held letter waits. This module
only reads; how a requester is verified is :mod:`handlers.identity` and
:mod:`handlers.challenge`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from storage import cases as store
from storage.challenges import newest_for_case
from storage.models import AuditEntry, Case, Customer

#: What each identity audit action means to staff ("... at TIME" follows).
EVENT_TEXT: dict[str, str] = {
    "identity.challenge_issued": "code sent to the registered address",
    "identity.confirmation_held": "code letter to the registered address queued for the "
                                  "hourly letter (one an hour, listing every waiting request)",
    "identity.challenge_reminded": "code reminder sent to the registered address",
    "identity.challenge_ok": "code answered from the registered address",
    "identity.challenge_wrong": "wrong code received",
    "identity.challenge_exhausted": "wrong code received, no attempts left",
    "identity.challenge_expired": "code expired unanswered",
    "identity.challenge_wrong_sender": "right code from another address: confirmation revoked",
    "identity.verified_by_staff": "verified by staff",
    "identity.challenge_cancelled_by_owner": "the registered address said it was not them: "
                                             "code cancelled",
}


#: Audit actions naming the customer a confirmation letter is for (mailed, or held for the hour).
_LETTER_ACTIONS = frozenset({"identity.challenge_issued", "identity.confirmation_held"})


@dataclass(frozen=True)
class IdentityEvent:
    at: datetime
    actor: str
    action: str
    text: str
    note: str = ""

    def describe(self, tz: str) -> str:
        """``code answered from the registered address at 07.12.2026 10:30``."""
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        when = at.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")
        who = f" by {self.actor}" if self.action == "identity.verified_by_staff" else ""
        note = f": {self.note}" if self.note else ""
        return f"{self.text}{who} at {when}{note}"


@dataclass(frozen=True)
class IdentitySummary:
    level: str
    customer_id: int | None
    customer_number: str | None
    verified: bool
    events: tuple[IdentityEvent, ...]

    def customer_line(self) -> str:
        """The matched customer as every view words it (no name: views add what they may)."""
        if self.customer_number is None:
            return "no customer matched"
        state = "" if self.verified else ", matched, not verified"
        return f"customer {self.customer_number}{state}"

    def event_lines(self, tz: str) -> list[str]:
        return [event.describe(tz) for event in self.events]


def identity_summary(session: Session, case: Case,
                     trail: Sequence[AuditEntry] | None = None) -> IdentitySummary:
    """The identity of ``case``'s requester as all views show it (pass ``trail`` if read)."""
    entries = list(trail) if trail is not None else store.case_audit_trail(session, case.id)
    events = tuple(_event(e) for e in entries if e.action in EVENT_TEXT)
    customer_id = case.customer_id
    customer_number = None
    if customer_id is None:  # before verification: whom the confirmation letter is for
        challenge = newest_for_case(session, case.id)
        customer_id = challenge.customer_id if challenge is not None else None
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        customer_number = customer.customer_number if customer is not None else None
    if customer_number is None:  # challenge rows purged: the trail still names the customer
        customer_number = next((e.customer_number for e in reversed(entries)
                                if e.action in _LETTER_ACTIONS and e.customer_number), None)
    verified = case.verification_level == "verified" and case.customer_id is not None
    return IdentitySummary(level=case.verification_level.replace("_", " "),
                           customer_id=customer_id, customer_number=customer_number,
                           verified=verified, events=events)


def _event(entry: AuditEntry) -> IdentityEvent:
    note = str(entry.details.get("reason") or "") if entry.action == (
        "identity.verified_by_staff") else ""
    return IdentityEvent(at=entry.at, actor=entry.actor, action=entry.action,
                         text=EVENT_TEXT[entry.action], note=note)
