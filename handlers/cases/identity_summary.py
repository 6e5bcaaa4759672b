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

from sqlmodel import Session

# The deciding half, re-exported under its old names.
from handlers.cases.identity_view import EVENT_TEXT as EVENT_TEXT
from handlers.cases.identity_view import IdentityEvent as IdentityEvent
from handlers.cases.identity_view import IdentitySummary as IdentitySummary
from handlers.cases.identity_view import summarise
from storage import cases as store
from storage.challenges import newest_for_case
from storage.models import AuditEntry, Case, Customer


def identity_summary(session: Session, case: Case,
                     trail: Sequence[AuditEntry] | None = None) -> IdentitySummary:
    """The identity of ``case``'s requester as all views show it (pass ``trail`` if read)."""
    entries = list(trail) if trail is not None else store.case_audit_trail(session, case.id)

    def challenge_customer_id() -> int | None:
        challenge = newest_for_case(session, case.id)
        return challenge.customer_id if challenge is not None else None

    def customer_number_of(customer_id: int) -> str | None:
        customer = session.get(Customer, customer_id)
        return customer.customer_number if customer is not None else None

    return summarise(case, entries, challenge_customer_id=challenge_customer_id,
                     customer_number_of=customer_number_of)
