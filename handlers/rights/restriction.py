"""Right to restriction (GDPR Art. 18): processing stops except storage.

``processing_restricted`` keeps the person off every list and export for marketing or
publication (``storage.register.iter_mailing_list``); what is still allowed is storing the
data, answering the person's own requests (access, portability, rectification) and what a
legal claim needs. Before the restriction is lifted the person is told (Art. 18(3)).
The parties the data was disclosed to are told of the restriction (Art. 19).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers.rights.base import SentLetter
from handlers.rights.flags import FlagHandler
from handlers.rights.notify import notify_recipients
from storage.models import PERSONAL_FIELDS, Case, Customer


class RestrictionHandler(FlagHandler):
    right = "restriction"
    flag = "processing_restricted"
    letter = "restriction_outcome"
    when = "restricted_at"

    def after_set(self, session: Session, case: Case, customer: Customer, actor: str,
                  now: datetime) -> tuple[list[SentLetter], dict[str, Any]]:
        """Art. 19: the parties the data was disclosed to restrict their copies too."""
        told = notify_recipients(session, self.org, case, customer, change="restriction",
                                 fields=PERSONAL_FIELDS, actor=actor, now=now)
        return told.letters, {"notified_party_ids": told.party_ids,
                              "unnotified_party_ids": told.unreachable_party_ids}
