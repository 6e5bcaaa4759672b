"""Register look-ups for *candidates*: customers a mail's text may point at, for staff to judge.

A customer number, phone number, address or name in a mail's text is easy to know about
someone else, so these look-ups never make a match on their own (see handlers.identity); they
only save staff the search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from storage.models import Customer


@dataclass(frozen=True)
class CandidateKeys:
    """Things in a mail that may point at a customer: for staff, never an automatic match."""

    customer_numbers: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    names: list[tuple[str, str]] = field(default_factory=list)
    #: Registered addresses the sender may imitate (``lookalike.near_miss_addresses``).
    near_misses: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.customer_numbers or self.phones or self.emails or self.names
                    or self.near_misses)


#: A mail that names more customers than this is not about one person; staff search by hand.
MAX_CANDIDATES = 20


def find_candidates(session: Session, keys: CandidateKeys) -> Sequence[Customer]:
    """Customers matching any key (not anonymised), at most :data:`MAX_CANDIDATES`."""
    if not keys:
        return []
    conditions: list[Any] = []
    if keys.customer_numbers:
        conditions.append(col(Customer.customer_number).in_(keys.customer_numbers))
    if keys.phones:
        conditions.append(col(Customer.phone).in_(keys.phones))
    emails = list(dict.fromkeys([*keys.emails, *keys.near_misses]))
    if emails:
        conditions.append(col(Customer.email_normalised).in_(emails))
    for first, last in keys.names:
        conditions.append(and_(func.lower(Customer.first_name) == first.lower(),
                               func.lower(Customer.last_name) == last.lower()))
    return session.exec(
        select(Customer)
        .where(or_(*conditions))
        .where(col(Customer.anonymised_at).is_(None))
        .order_by(col(Customer.id))
        .limit(MAX_CANDIDATES)
    ).all()


def customers_by_name_prefix(
    session: Session, prefixes: Sequence[tuple[str, str]]
) -> Sequence[Customer]:
    """Customers whose first and last names start with the given (lower-case) prefixes.

    A coarse SQL filter only: names in a mail are inflected ("Matti Virtasen"), so the caller
    compares the stems (``handlers.identity.names``)."""
    if not prefixes:
        return []
    conditions = [and_(func.lower(Customer.first_name).like(f"{first}%"),
                       func.lower(Customer.last_name).like(f"{last}%"))
                  for first, last in prefixes]
    return session.exec(
        select(Customer)
        .where(or_(*conditions))
        .where(col(Customer.anonymised_at).is_(None))
        .order_by(col(Customer.id))
        .limit(MAX_CANDIDATES)
    ).all()
