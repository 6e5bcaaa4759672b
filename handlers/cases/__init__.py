"""The case engine: open a case, join follow-ups to it, take the decisions on it.

Why it is shaped like this:

* One case per request, and every change to it is a checked status transition or a flagged
  field change, audited with who did it and why, in the caller's transaction.
* A follow-up joins its case through the mail thread (In-Reply-To/References against the
  request's own Message-ID and our letters' Message-IDs). A case id typed into a subject joins
  only when the sender *is* the case's requester and this mail proves it: otherwise a stranger
  who guesses ``DSR-2026-0001`` could slip mail, and later answers, into someone else's case.
* Decisions are idempotent where a double tap in a chat must act once: approving an approved
  case reports who approved it, without a second audit entry. Each decision re-reads the case
  under a row lock first, so two taps racing on PostgreSQL still act once.
* Approval is the last gate before personal data leaves or the register changes, so it refuses
  a case whose requester is not verified, or an access/rectification request without a
  signature (the privacy notice requires one), whoever asks.

Pure decisions (``needs_staff``, ``next_status``, ``approval_blockers``, ``staff_denial``, the
header parsing) are plain functions; the rest wrap :mod:`storage.cases`.

One job per module: ``rules`` (pure decisions and the values they return), ``threads``
(opening a case and joining follow-ups to it), ``decisions`` (status changes staff and the bot
take), ``extensions`` (the Art. 12(3) extension and its notices), ``staff`` (who may decide)
and ``queries`` (open, due and overdue cases).
"""

from handlers.cases.decisions import (
    advance,
    approve,
    assign,
    mark_done,
    record_identity,
    refuse,
    request_information,
    withdraw,
)
from handlers.cases.extensions import (
    ExtensionNotice,
    extend,
    extension_notices_pending,
    mark_extension_notified,
)
from handlers.cases.queries import due_within, open_cases, overdue
from handlers.cases.rules import (
    DEFAULT_AUTO_APPROVE,
    MAX_REFERENCES,
    MAX_SUBJECT_IDS,
    SIGNATURE_FOR_STAFF,
    SIGNATURE_OK,
    SIGNED_TYPES,
    STAFF_ACTIONS,
    VERIFIED,
    CaseError,
    Decision,
    approval_blockers,
    effective_due,
    is_open,
    needs_staff,
    next_status,
)
from handlers.cases.staff import StaffCheck, StaffEntry, authorise_staff, staff_denial
from handlers.cases.threads import (
    add_thread_id,
    attach_followup,
    case_ids_in_subject,
    case_named_by_reminder,
    find_case_for_followup,
    message_ids_in,
    normalise_address,
    normalise_message_id,
    open_case,
)

__all__ = [
    "DEFAULT_AUTO_APPROVE",
    "MAX_REFERENCES",
    "MAX_SUBJECT_IDS",
    "SIGNATURE_FOR_STAFF",
    "SIGNATURE_OK",
    "SIGNED_TYPES",
    "STAFF_ACTIONS",
    "VERIFIED",
    "CaseError",
    "Decision",
    "ExtensionNotice",
    "StaffCheck",
    "StaffEntry",
    "add_thread_id",
    "advance",
    "approval_blockers",
    "approve",
    "assign",
    "attach_followup",
    "authorise_staff",
    "case_ids_in_subject",
    "case_named_by_reminder",
    "due_within",
    "effective_due",
    "extend",
    "extension_notices_pending",
    "find_case_for_followup",
    "is_open",
    "mark_done",
    "mark_extension_notified",
    "message_ids_in",
    "needs_staff",
    "next_status",
    "normalise_address",
    "normalise_message_id",
    "open_case",
    "open_cases",
    "overdue",
    "record_identity",
    "refuse",
    "request_information",
    "staff_denial",
    "withdraw",
]
