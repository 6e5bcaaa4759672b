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
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage import txmemo
from storage.models import Customer
from storage.register import BOUND_PARAMS


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


#: The transaction's answers of :func:`find_candidates`, by :func:`_memo_key`.
_FOUND = "candidates"
_TABLE = str(Customer.__tablename__)
#: :func:`remember_candidates` reads at most this many customers for a batch, and at most
#: this many keys (bound parameters) in one query; beyond either it remembers nothing.
_BATCH_ROWS = 2000
_BATCH_KEYS = BOUND_PARAMS


_Key = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...],
             tuple[str, ...]]


def _memo_key(keys: CandidateKeys) -> _Key:
    return (tuple(keys.customer_numbers), tuple(keys.phones), tuple(keys.emails),
            tuple(keys.names), tuple(keys.near_misses))


def find_candidates(session: Session, keys: CandidateKeys) -> Sequence[Customer]:
    """Customers matching any key (not anonymised), at most :data:`MAX_CANDIDATES`, by id.

    Answered from what :func:`remember_candidates` read for the transaction when it holds
    these keys (a batch of mail reads them in one query, not one per request)."""
    if not keys:
        return []
    known = txmemo.reading(session, _FOUND, _TABLE).get(_memo_key(keys))
    if known is not None:
        return list(known)
    return session.exec(
        select(Customer).where(or_(*_conditions(keys)))
        .where(col(Customer.anonymised_at).is_(None))
        .order_by(col(Customer.id))
        .limit(MAX_CANDIDATES)
    ).all()


def _conditions(keys: CandidateKeys) -> list[Any]:
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
    return conditions


def remember_candidates(session: Session, many: Sequence[CandidateKeys]) -> None:
    """Read the candidates of every set of keys in ``many`` in one query, for
    :func:`find_candidates` to answer from until the transaction ends, rolls back, or writes
    to the customer table.

    The query matches any key of any set; which customers each set matches is then decided
    here on the columns as the database returned them (names lower-cased by the database,
    as the per-mail query compares them), in id order, at most :data:`MAX_CANDIDATES`."""
    wanted = list(dict.fromkeys(_memo_key(k) for k in many if k))
    union = CandidateKeys(
        customer_numbers=list(dict.fromkeys(n for k in wanted for n in k[0])),
        phones=list(dict.fromkeys(p for k in wanted for p in k[1])),
        emails=list(dict.fromkeys(e for k in wanted for part in (k[2], k[4]) for e in part)),
        names=list(dict.fromkeys(n for k in wanted for n in k[3])))
    size = (len(union.customer_numbers) + len(union.phones) + len(union.emails)
            + 2 * len(union.names))
    if not wanted or size > _BATCH_KEYS:
        return
    rows = session.execute(
        sa_select(Customer, col(Customer.customer_number), col(Customer.phone),
               col(Customer.email_normalised), func.lower(Customer.first_name),
               func.lower(Customer.last_name))
        .where(or_(*_conditions(union)))
        .where(col(Customer.anonymised_at).is_(None))
        .order_by(col(Customer.id))
        .limit(_BATCH_ROWS + 1)
    ).all()
    if len(rows) > _BATCH_ROWS:
        return  # too common a key: each mail asks for itself
    known = txmemo.reading(session, _FOUND, _TABLE)
    for key in wanted:
        numbers, phones, emails = set(key[0]), set(key[1]), {*key[2], *key[4]}
        names = {(first.lower(), last.lower()) for first, last in key[3]}
        known[key] = [row[0] for row in rows
                      if row[1] in numbers or row[2] in phones or row[3] in emails
                      or (row[4], row[5]) in names][:MAX_CANDIDATES]


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
