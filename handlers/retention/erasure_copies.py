"""Erasure reaches dsrbot's own copies (GDPR Art. 17 applies to our records too).

When a customer's erasure is carried out, anonymising the register row is not enough: her
earlier request mails, the access report we sent her last month, the mail she wrote to
customer service with her phone number in it, the confirmation codes she answered, all sit in
dsrbot's database. They go at once, in the erasure's own transaction:

* every stored mail from her address, or filed under one of her cases, keeps only its dedupe
  key, dates and state (the erasure request itself included: its signature and text go);
* the forwards of those mails to customer service (each carries her mail whole, and her
  subject line) lose the attached original, the subject and the note; one not yet sent never
  goes (:mod:`storage.mail_copies`);
* bounce notices returning one of her letters (or her forwards) are emptied like her mail:
  they quote her address. Her letters' bounce diagnostics go with their address;
* her other closed cases keep dates, types, status and decisions; their delivered letters lose
  text, address and files, their chat notifications and identity evidence go;
* the erasure case itself keeps what proves it was handled: dates, types, the decision and the
  letter text (until ``retention.case_years``). Its delivered letters lose their address, and
  their text too where it copies the register (an access report or export in the same case);
  their files go. Letters still in the outbox (the erasure confirmation) are sent first; the
  daily purge then does the same to them (:func:`forget_delivered_addresses`).

An open case of hers stays as it is: staff still have to answer it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage import mail_copies as copies
from storage import purge as store
from storage.models import Case

#: Letters whose text copies register data: after an erasure their text goes too.
DATA_LETTER_KINDS = ("access_report", "portability")


def purge_customer_copies(session: Session, erasure_case: Case, *, customer_id: int,
                          address: str, now: datetime) -> dict[str, int]:
    """Purge or redact everything of or about this customer but the erasure case's proof.

    ``address`` is her registered address, normalised, read before the register row was
    emptied. Returns counts by kind for the audit entry (never contents).
    """
    others = store.closed_cases_of(session, customer_id, address, exclude=erasure_case.id)
    other_ids = [c.id for c in others]
    all_ids = [*other_ids, erasure_case.id]
    mails = sorted({*store.inbound_from(session, address),
                    *store.inbound_of_cases(session, all_ids)})
    forwards = copies.forwards_of(session, mails)
    returned = [*copies.letters_of_cases(session, all_ids), *forwards]
    notices = [i for i in copies.bounces_of(session, returned) if i not in set(mails)]
    counts = {
        "mails": store.purge_inbound(session, mails, now),
        "forwards": copies.purge_forwards(session, forwards, now),
        "bounce_notices": store.purge_inbound(session, notices, now),
        "attachments": store.purge_attachments(
            session, store.attachments_of_cases(session, all_ids), now),
        "letters": store.redact_letters(session, other_ids)
        + store.forget_letter_addresses(session, [erasure_case.id], DATA_LETTER_KINDS),
        "chat": store.delete_chat_rows(session, other_ids),
        "challenges": store.delete_challenges(session, case_ids=all_ids,
                                              customer_id=customer_id),
        "cases": len(others),
    }
    for case in [*others, erasure_case]:
        store.forget_case_text(case)
        session.add(case)
    session.flush()
    return counts


def forget_delivered_addresses(session: Session, now: datetime, *, limit: int) -> int:
    """Letters of erased customers' cases delivered after the erasure: address (and, for
    register copies, text) and files go. Returns the number of cases handled."""
    ids = store.redacted_cases_with_addresses(session, limit)
    store.forget_letter_addresses(session, ids, DATA_LETTER_KINDS)
    store.purge_attachments(session, store.attachments_of_cases(session, ids), now)
    return len(ids)
