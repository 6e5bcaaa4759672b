"""Right to object (GDPR Art. 21): always a person's decision, and the answer says what it was.

The proposal carries the grounds the person gave (for staff to weigh); it is carried out only
once staff have recorded a decision with :func:`decide`. An upheld objection stops the
processing the notice bases on the company's own interest (targeting, lists, marketing): the
marketing and publication bans are set. A rejected one leaves the register as it is; the
letter gives the reasons and the way to the supervisory authority either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from handlers.rights.base import (
    GatedHandler,
    Outcome,
    Proposal,
    RightsError,
    record_audit,
    registered_recipient,
    send_letter,
)
from storage.models import Case, Customer

MAX_GROUNDS = 2000


def decide(proposal: Proposal, *, upheld: bool, note: str = "") -> Proposal:
    """The proposal with staff's decision in it, ready for ``carry_out``."""
    return proposal.with_params(decision="upheld" if upheld else "rejected",
                                decision_note=note.strip())


class ObjectionHandler(GatedHandler):
    right = "objection"

    def propose_verified(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal:
        grounds = str(extracted.get("grounds") or "")[:MAX_GROUNDS]
        return Proposal(self.right, "ask_staff", needs_staff=True, params={"grounds": grounds})

    def carry_out(
        self, session: Session, case: Case, customer: Customer, proposal: Proposal, actor: str
    ) -> Outcome:
        decision = proposal.params.get("decision")
        if decision not in ("upheld", "rejected"):
            raise RightsError(f"{case.id}: an objection needs a staff decision (upheld or "
                              "rejected) before it is answered")
        recipient = registered_recipient(case, customer)
        now = self.clock.now()
        upheld = decision == "upheld"
        changed = []
        if upheld:
            for flag in ("marketing_ban", "publication_ban"):
                if not getattr(customer, flag):
                    setattr(customer, flag, True)
                    changed.append(flag)
            customer.updated_at = now
            session.add(customer)
            session.flush()
        note = str(proposal.params.get("decision_note") or "") or None
        sent = send_letter(session, self.org, case, kind="objection_outcome", recipient=recipient,
                           context={"upheld": upheld, "decided_at": now, "note": note},
                           actor=actor)
        record_audit(session, actor, "rights.objection.decided", case, customer,
                     decision=decision, flags_set=changed, outbound_id=sent.outbound_id)
        return Outcome(self.right, "done" if upheld else "refused", letters=(sent,),
                       changed_fields=tuple(changed))
