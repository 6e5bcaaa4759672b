"""Right to rectification (GDPR Art. 16 and 19): correct a field, keep its history, tell others.

The notice: the request says what to correct and on what grounds; the correction is made
without delay; the party the wrong data came from, or was disclosed to, is told; a refusal is
a written certificate with the reasons, which the person may take to the Data Protection
Ombudsman.

Values are validated as imports validate them (email syntax, phone as E.164, a Finnish postal
address with its five-digit code). Each change leaves a FieldChange row (the old value is
kept only until the customer is erased). The registered email address is special, because it
is where every answer and every identity challenge goes: it changes only on a verified
request, only by a person (never automatically), and the confirmation goes to the OLD address,
so that the real owner hears of it even if someone else managed to ask.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from handlers.fields import (
    FieldError,
    normalise_email,
    normalise_phone,
    validate_email_address,
    validate_postal_address,
)
from handlers.rights.access import field_sources
from handlers.rights.base import (
    GatedHandler,
    Outcome,
    Proposal,
    Reason,
    RightsError,
    SentLetter,
    customer_party,
    party_view,
    record_audit,
    registered_recipient,
    send_letter,
    send_refusal,
)
from mailformat import UnsafeValue, check_recipient
from storage import audit
from storage.models import (
    PERSONAL_FIELDS,
    Case,
    Customer,
    Disclosure,
    FieldChange,
    FieldProvenance,
    Party,
    PartyKind,
)

MAX_LENGTH: Mapping[str, int] = {
    "first_name": 200, "last_name": 200, "organisation": 300, "position": 200, "email": 320,
    "postal_address": 500, "phone": 32, "www": 500, "ip_address": 64,
}
NAME_FIELDS = frozenset({"first_name", "last_name"})
MAX_GROUNDS = 1000
_WWW = re.compile(r"(?<![\w-])(https?://)?[\w-]+(\.[\w-]+)+(:\d+)?(/\S*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Change:
    field: str
    value: str
    grounds: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "value": self.value, "grounds": self.grounds}


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def requested_changes(extracted: Mapping[str, Any]) -> list[Change]:
    """Changes from staff (``changes``) or the classifier's entities with ``field``/``value``."""
    grounds = str(extracted.get("grounds") or "")
    items: Iterable[Any] = extracted.get("changes") or [
        e for e in extracted.get("entities") or () if _get(e, "field")]
    out = []
    for item in items:
        name, value = _get(item, "field"), _get(item, "value")
        if name is None or value is None:
            continue
        out.append(Change(str(name), str(value), str(_get(item, "grounds") or grounds)))
    return out


def normalise_value(name: str, value: str) -> str:
    """The value as it would be stored; raises :class:`FieldError` with a reason code."""
    value = " ".join(value.split())
    if len(value) > MAX_LENGTH[name]:
        raise FieldError("value_too_long")
    if name in NAME_FIELDS and not value:
        raise FieldError("name_required")
    try:
        if name == "email":
            return validate_email_address(value)
        if name == "phone":
            return normalise_phone(value) if value else ""
        if name == "postal_address":
            return validate_postal_address(value)
    except FieldError as exc:
        raise FieldError(f"invalid_{name}") from exc
    if name == "ip_address" and value:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise FieldError("invalid_ip_address") from None
    if name == "www" and value and not _WWW.fullmatch(value):
        raise FieldError("invalid_www")
    return value


@dataclass
class Checked:
    accepted: list[Change] = field(default_factory=list)
    rejected: list[Reason] = field(default_factory=list)


def check_changes(customer: Customer, changes: Sequence[Change]) -> Checked:
    checked = Checked()
    seen: set[str] = set()
    for change in changes:
        if change.field not in PERSONAL_FIELDS:
            checked.rejected.append(Reason("unknown_field"))
            continue
        try:
            value = normalise_value(change.field, change.value)
        except FieldError as exc:
            checked.rejected.append(Reason(str(exc), {"field": change.field}))
            continue
        if value == getattr(customer, change.field):
            checked.rejected.append(Reason("value_unchanged", {"field": change.field}))
            continue
        if change.field in seen:  # the last word on a field wins
            checked.accepted = [c for c in checked.accepted if c.field != change.field]
        seen.add(change.field)
        checked.accepted.append(Change(change.field, value, change.grounds[:MAX_GROUNDS]))
    return checked


@dataclass
class PartyNotice:
    party: Party
    relation: str  # "source" or "recipient"
    fields: list[str]


def parties_to_notify(
    session: Session, customer: Customer, fields: Sequence[str]
) -> list[PartyNotice]:
    """Art. 19: whoever the changed fields came from (other than the customer) or went to."""
    assert customer.id is not None
    sources = field_sources(session, customer)
    notices: dict[int, PartyNotice] = {}

    def add(party: Party | None, relation: str, name: str) -> None:
        if party is None or party.id is None or party.kind == PartyKind.CUSTOMER.value:
            return
        notice = notices.setdefault(party.id, PartyNotice(party, relation, []))
        if relation == "source":
            notice.relation = "source"
        if name not in notice.fields:
            notice.fields.append(name)

    for name in fields:
        add(sources[name], "source", name)
    disclosures = session.exec(select(Disclosure).where(Disclosure.customer_id == customer.id)
                               .order_by(col(Disclosure.id))).all()
    for disclosure in disclosures:
        for name in fields:
            if not disclosure.fields or name in disclosure.fields:
                add(session.get(Party, disclosure.party_id), "recipient", name)
    return list(notices.values())


class RectificationHandler(GatedHandler):
    right = "rectification"

    def propose_verified(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal:
        changes = requested_changes(extracted)
        if not changes:
            return Proposal(self.right, "ask_staff", (Reason("no_changes"),), needs_staff=True)
        checked = check_changes(customer, changes)
        params = {"changes": [c.to_dict() for c in checked.accepted],
                  "rejected": [r.to_dict() for r in checked.rejected]}
        if not checked.accepted:
            return Proposal(self.right, "refuse", tuple(checked.rejected), needs_staff=True,
                            params=params)
        reasons = list(checked.rejected)
        needs_staff = False
        if self.signature_required(case):
            reasons.append(Reason("signature_missing"))
            needs_staff = True
        if any(c.field == "email" for c in checked.accepted):
            needs_staff = True  # the address every answer goes to: a person decides
        return Proposal(self.right, "carry_out", tuple(reasons), needs_staff=needs_staff,
                        params=params)

    def carry_out(
        self, session: Session, case: Case, customer: Customer, proposal: Proposal, actor: str
    ) -> Outcome:
        old_address = registered_recipient(case, customer)  # before anything changes
        now = self.clock.now()
        rejected = [Reason.from_dict(r) for r in proposal.params.get("rejected") or ()]
        changes = [Change(**c) for c in proposal.params.get("changes") or ()]
        checked = check_changes(customer, changes)
        rejected += checked.rejected
        if proposal.action == "refuse" or not checked.accepted:
            reasons = rejected or list(proposal.reasons) or [Reason("no_changes")]
            letter = send_refusal(session, self.org, case, customer, right=self.right,
                                  reasons=reasons, actor=actor, now=now)
            record_audit(session, actor, "rights.rectification.refused", case, customer,
                         reasons=[r.code for r in reasons], outbound_id=letter.outbound_id)
            return Outcome(self.right, "refused", tuple(reasons), (letter,))
        accepted = checked.accepted
        if any(c.field == "email" for c in accepted) and actor == audit.BOT_ACTOR:
            raise RightsError(f"{case.id}: the registered email address changes only on a "
                              "staff decision")
        fields = [c.field for c in accepted]
        notices = parties_to_notify(session, customer, fields)
        self._apply(session, case, customer, accepted, actor, now)
        letters = [*self._notify(session, case, customer, accepted, notices, actor, now)]
        notified = [n for n in notices if letters_for(letters, n)]
        not_notified = [n for n in notices if n not in notified]
        done = send_letter(session, self.org, case, kind="rectification_done",
                           recipient=old_address, actor=actor, context={
                               "changes": [{"field": c.field, "value": c.value}
                                           for c in accepted],
                               "notified": [party_view(n.party) for n in notified],
                               "not_notified": [party_view(n.party) for n in not_notified],
                               "email_changed": "email" in fields})
        letters.append(done)
        if rejected:
            letters.append(send_refusal(session, self.org, case, customer, right=self.right,
                                        reasons=rejected, actor=actor, now=now))
        record_audit(session, actor, "rights.rectification.applied", case, customer,
                     fields=fields, rejected=[r.code for r in rejected],
                     notified_party_ids=[n.party.id for n in notified],
                     unnotified_party_ids=[n.party.id for n in not_notified],
                     outbound_ids=[sent.outbound_id for sent in letters])
        return Outcome(self.right, "done", tuple(rejected), tuple(letters), tuple(fields))

    def _apply(self, session: Session, case: Case, customer: Customer,
               changes: Sequence[Change], actor: str, now: datetime) -> None:
        assert customer.id is not None
        own = customer_party(session)
        record_source = (session.get(Party, customer.source_party_id)
                         if customer.source_party_id is not None else None)
        for change in changes:
            session.add(FieldChange(customer_id=customer.id, field=change.field,
                                    old_value=getattr(customer, change.field) or None,
                                    changed_at=now, actor=actor, case_id=case.id,
                                    grounds=change.grounds))
            setattr(customer, change.field, change.value)
            if change.field == "email":
                customer.email_normalised = normalise_email(change.value)
                # A new address has not bounced: the undeliverable warning was the old one's.
                customer.email_undeliverable_at = customer.email_undeliverable_status = None
            # The value now comes from the customer: the old source no longer applies.
            session.execute(delete(FieldProvenance).where(
                col(FieldProvenance.customer_id) == customer.id,
                col(FieldProvenance.field) == change.field))
            if own is not None and own.id is not None and (
                    record_source is None or record_source.id != own.id):
                session.add(FieldProvenance(customer_id=customer.id, field=change.field,
                                            party_id=own.id, obtained_at=now))
        customer.updated_at = now
        session.add(customer)
        session.flush()

    def _notify(self, session: Session, case: Case, customer: Customer,
                changes: Sequence[Change], notices: Sequence[PartyNotice], actor: str,
                now: datetime) -> list[SentLetter]:
        letters = []
        for notice in notices:
            address = notice.party.contact_email or ""
            try:
                check_recipient(address)
            except UnsafeValue:
                continue  # staff tell this party by other means (see the audit entry)
            letters.append(send_letter(
                session, self.org, case, kind="rectification_notice", recipient=address,
                language="fi", thread=False, actor=actor, context={
                    "customer_number": customer.customer_number, "relation": notice.relation,
                    "changed_at": now,
                    "changes": [{"field": c.field, "value": c.value} for c in changes
                                if c.field in notice.fields]}))
        return letters


def letters_for(letters: Sequence[SentLetter], notice: PartyNotice) -> bool:
    address = (notice.party.contact_email or "").strip().lower()
    return any(s.kind == "rectification_notice" and s.recipient.lower() == address
               for s in letters)
