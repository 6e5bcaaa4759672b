"""Right to erasure (*oikeus tulla unohdetuksi*, GDPR Art. 17), as anonymisation in place.

The customer row stays (orders and invoices keep pointing at it, so the books still add up);
its personal fields are emptied, the correction history loses its old values, and
``anonymised_at`` is set. Where a hold keeps some fields (see :mod:`handlers.rights.holds`),
only the rest is erased, the person is kept off every list and out of marketing, processing
is restricted to the hold's purpose, and the letter says what was kept and why. A hold that
keeps everything (an organisation's contact person, an authority's order) is a refusal.

Holds are looked up again when the erasure is carried out, not taken from the proposal: an
invoice may have been paid (or sent to collection) while staff were deciding.

The parties the erased fields were disclosed to are told (GDPR Art. 19). The audit log
records that an erasure happened and which fields, never the erased values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, update

from handlers.rights.base import (
    GatedHandler,
    Outcome,
    Proposal,
    Reason,
    RightsError,
    record_audit,
    registered_recipient,
    send_letter,
    send_refusal,
)
from handlers.rights.holds import (
    blocking_holds,
    blocks_everything,
    erasable_fields,
    find_holds,
    kept_fields,
    relevant_holds,
)
from handlers.rights.notify import notify_recipients
from storage.models import Case, Customer, FieldChange


class ErasureHandler(GatedHandler):
    right = "erasure"

    def propose_verified(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal:
        if customer.anonymised_at is not None:
            return Proposal(self.right, "ask_staff", (Reason("already_erased"),),
                            needs_staff=True)
        holds = relevant_holds(customer, find_holds(session, customer, self.org,
                                                    self.clock.now().date()))
        reasons = tuple(h.as_reason() for h in holds)
        if blocks_everything(holds):
            return Proposal(self.right, "refuse", reasons, tuple(holds))
        if kept_fields(customer, holds):
            return Proposal(self.right, "partial", reasons, tuple(holds),
                            params={"kept": list(kept_fields(customer, holds))})
        return Proposal(self.right, "carry_out")

    def carry_out(
        self, session: Session, case: Case, customer: Customer, proposal: Proposal, actor: str
    ) -> Outcome:
        recipient = registered_recipient(case, customer)  # read before the address goes
        if customer.anonymised_at is not None:
            raise RightsError(f"{case.id}: this customer was erased already")
        now = self.clock.now()
        holds = relevant_holds(customer, find_holds(session, customer, self.org, now.date()))
        if blocks_everything(holds):
            reasons = [h.as_reason() for h in blocking_holds(holds)]
            letter = send_refusal(session, self.org, case, customer, right=self.right,
                                  reasons=reasons, actor=actor, now=now)
            record_audit(session, actor, "rights.erasure.refused", case, customer,
                         holds=[h.code for h in holds], outbound_id=letter.outbound_id)
            return Outcome(self.right, "refused", tuple(reasons), (letter,))
        erased = erasable_fields(customer, holds)
        kept = kept_fields(customer, holds)
        told = notify_recipients(session, self.org, case, customer, change="erasure",
                                 fields=erased, actor=actor, now=now)
        anonymise(session, customer, erased, full=not kept, now=now)
        partial = bool(kept)
        kind = "erasure_partial" if partial else "erasure_done"
        context: dict[str, Any] = {"erased_at": now, "erased_fields": list(erased)}
        if partial:
            context |= {"kept_fields": list(kept),
                        "holds": [h.as_reason().to_dict() for h in holds]}
        letter = send_letter(session, self.org, case, kind=kind, recipient=recipient,
                             context=context, actor=actor)
        record_audit(session, actor, f"rights.erasure.{'partial' if partial else 'done'}",
                     case, customer, fields_erased=list(erased), fields_kept=list(kept),
                     holds=[h.code for h in holds], outbound_id=letter.outbound_id,
                     notified_party_ids=told.party_ids,
                     unnotified_party_ids=told.unreachable_party_ids)
        return Outcome(self.right, "partial" if partial else "done",
                       tuple(h.as_reason() for h in holds), (letter, *told.letters),
                       tuple(erased))


def anonymise(session: Session, customer: Customer, fields: tuple[str, ...], *, full: bool,
              now: datetime) -> None:
    """Empty ``fields`` in place; keep the person off every list; forget old values.

    ``full``: nothing personal is left, so the record is marked anonymised and the customer
    relationship ends today if it had not ended. Otherwise processing is restricted to what the
    holds need (storage, invoicing, collection).
    """
    assert customer.id is not None
    for name in fields:
        setattr(customer, name, "")
        if name == "email":
            customer.email_normalised = ""
    customer.marketing_ban = True
    customer.publication_ban = True
    if full:
        customer.anonymised_at = now
        customer.relationship_end = customer.relationship_end or now.date()
    else:
        customer.processing_restricted = True
    customer.updated_at = now
    session.add(customer)
    # Correction history keeps field names and dates, not what the fields used to say.
    session.execute(update(FieldChange).where(col(FieldChange.customer_id) == customer.id)
                    .values(old_value=None))
    session.flush()

