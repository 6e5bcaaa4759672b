"""The identity of a case's requester as every view words it: pure, from what was read.

The half of :mod:`handlers.cases.identity_summary` that decides, apart from the half that
reads, so the quick console path (:mod:`bot.cli.quick`) reads with plain SQL and still words
the requester exactly as the console, the chat and the desk do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo


class CaseFacts(Protocol):
    """What of a case the summary reads (an ORM Case, or the quick path's plain row)."""

    @property
    def customer_id(self) -> int | None: ...
    @property
    def verification_level(self) -> str: ...


class TrailEntry(Protocol):
    """What of an audit entry the summary reads."""

    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def customer_number(self) -> str | None: ...
    @property
    def details(self) -> dict[str, Any]: ...

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


def summarise(case: CaseFacts, entries: Sequence[TrailEntry], *,
              challenge_customer_id: Callable[[], int | None],
              customer_number_of: Callable[[int], str | None]) -> IdentitySummary:
    """The summary from the case, its audit trail and two look-ups (called only if needed):
    the customer the newest challenge is for, and a customer's number."""
    events = tuple(_event(e) for e in entries if e.action in EVENT_TEXT)
    customer_id = case.customer_id
    customer_number = None
    if customer_id is None:  # before verification: whom the confirmation letter is for
        customer_id = challenge_customer_id()
    if customer_id is not None:
        customer_number = customer_number_of(customer_id)
    if customer_number is None:  # challenge rows purged: the trail still names the customer
        customer_number = next((e.customer_number for e in reversed(entries)
                                if e.action in _LETTER_ACTIONS and e.customer_number), None)
    verified = case.verification_level == "verified" and case.customer_id is not None
    return IdentitySummary(level=case.verification_level.replace("_", " "),
                           customer_id=customer_id, customer_number=customer_number,
                           verified=verified, events=events)


def _event(entry: TrailEntry) -> IdentityEvent:
    note = str(entry.details.get("reason") or "") if entry.action == (
        "identity.verified_by_staff") else ""
    return IdentityEvent(at=entry.at, actor=entry.actor, action=entry.action,
                         text=EVENT_TEXT[entry.action], note=note)
