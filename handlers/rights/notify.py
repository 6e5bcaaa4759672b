"""Telling the recipients of disclosed data about an erasure or a restriction (GDPR Art. 19).

Rectification tells both the source and the recipients (see :mod:`.rectification`, which the
notice spells out); an erasure or a restriction is told to every party the affected fields
were disclosed to, so that they can erase or restrict their copy too. A party without a
usable address is left for staff: its id is in the audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from handlers.rights.base import OrgInfo, SentLetter, send_letter
from mailformat import UnsafeValue, check_recipient
from storage.models import Case, Customer, Disclosure, Party


@dataclass(frozen=True)
class Notified:
    letters: list[SentLetter]
    party_ids: list[int]
    unreachable_party_ids: list[int]


def recipients_of(session: Session, customer: Customer, fields: Sequence[str]) -> dict[
    int, tuple[Party, list[str]]
]:
    """Parties any of ``fields`` were disclosed to, with the fields each received."""
    assert customer.id is not None
    found: dict[int, tuple[Party, list[str]]] = {}
    for disclosure in session.exec(select(Disclosure).where(
            Disclosure.customer_id == customer.id).order_by(col(Disclosure.id))):
        received = [f for f in fields if not disclosure.fields or f in disclosure.fields]
        party = session.get(Party, disclosure.party_id)
        if not received or party is None or party.id is None:
            continue
        entry = found.setdefault(party.id, (party, []))
        entry[1].extend(f for f in received if f not in entry[1])
    return found


def notify_recipients(
    session: Session, org: OrgInfo, case: Case, customer: Customer, *, change: str,
    fields: Sequence[str], actor: str, now: datetime,
) -> Notified:
    """``change`` is ``erasure`` or ``restriction``; one letter per reachable party."""
    letters: list[SentLetter] = []
    reached: list[int] = []
    unreachable: list[int] = []
    for party_id, (party, received) in recipients_of(session, customer, fields).items():
        try:
            address = check_recipient(party.contact_email or "")
        except UnsafeValue:
            unreachable.append(party_id)
            continue
        letters.append(send_letter(
            session, org, case, kind="recipient_notice", recipient=address, language="fi",
            thread=False, actor=actor, context={
                "customer_number": customer.customer_number, "change": change,
                "fields": received, "changed_at": now}))
        reached.append(party_id)
    return Notified(letters, reached, unreachable)
