"""Rights that set one flag on the customer at once and confirm it: the shape they share.

A marketing ban, a publication ban and a restriction change nothing but a flag, need no
judgement and may be carried out automatically (``approval.auto_approve``) once the requester
is verified. Setting a flag that is already set still confirms it: the person asked, and the
answer is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers.rights.base import (
    GatedHandler,
    Outcome,
    Proposal,
    SentLetter,
    record_audit,
    registered_recipient,
    send_letter,
)
from storage.models import Case, Customer


class FlagHandler(GatedHandler):
    right: str = ""
    flag: str = ""
    letter: str = ""
    #: Name of the letter's date variable.
    when: str = "set_at"

    def propose_verified(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal:
        return Proposal(self.right, "carry_out")

    def carry_out(
        self, session: Session, case: Case, customer: Customer, proposal: Proposal, actor: str
    ) -> Outcome:
        recipient = registered_recipient(case, customer)
        now = self.clock.now()
        already = bool(getattr(customer, self.flag))
        if not already:
            setattr(customer, self.flag, True)
            customer.updated_at = now
            session.add(customer)
            session.flush()
        extra, details = ([], {}) if already else self.after_set(session, case, customer,
                                                                  actor, now)
        sent = send_letter(session, self.org, case, kind=self.letter, recipient=recipient,
                           context={self.when: now}, actor=actor)
        record_audit(session, actor, f"rights.{self.right}.set", case, customer,
                     flag=self.flag, already_set=already, outbound_id=sent.outbound_id,
                     **details)
        return Outcome(self.right, "done", letters=(sent, *extra),
                       changed_fields=() if already else (self.flag,))

    def after_set(self, session: Session, case: Case, customer: Customer, actor: str,
                  now: datetime) -> tuple[list[SentLetter], dict[str, Any]]:
        """Anything else the flag's right requires (Art. 19 notices); letters + audit details."""
        return [], {}
