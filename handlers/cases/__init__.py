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

Importing the package loads none of these modules: each name is imported from its module on
first use (PEP 562), so a command that only reads a case (``dsrbot case``) does not pay for the
letters, templates and outbox the decisions pull in. The imports under ``TYPE_CHECKING`` give
mypy and import-linter the same names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailformat.lazy import lazy_getattr

if TYPE_CHECKING:
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

#: exported name -> the module of this package that defines it
_HOMES = {
    "advance": "decisions",
    "approve": "decisions",
    "assign": "decisions",
    "mark_done": "decisions",
    "record_identity": "decisions",
    "refuse": "decisions",
    "request_information": "decisions",
    "withdraw": "decisions",
    "ExtensionNotice": "extensions",
    "extend": "extensions",
    "extension_notices_pending": "extensions",
    "mark_extension_notified": "extensions",
    "due_within": "queries",
    "open_cases": "queries",
    "overdue": "queries",
    "DEFAULT_AUTO_APPROVE": "rules",
    "MAX_REFERENCES": "rules",
    "MAX_SUBJECT_IDS": "rules",
    "SIGNATURE_FOR_STAFF": "rules",
    "SIGNATURE_OK": "rules",
    "SIGNED_TYPES": "rules",
    "STAFF_ACTIONS": "rules",
    "VERIFIED": "rules",
    "CaseError": "rules",
    "Decision": "rules",
    "approval_blockers": "rules",
    "effective_due": "rules",
    "is_open": "rules",
    "needs_staff": "rules",
    "next_status": "rules",
    "StaffCheck": "staff",
    "StaffEntry": "staff",
    "authorise_staff": "staff",
    "staff_denial": "staff",
    "add_thread_id": "threads",
    "attach_followup": "threads",
    "case_ids_in_subject": "threads",
    "case_named_by_reminder": "threads",
    "find_case_for_followup": "threads",
    "message_ids_in": "threads",
    "normalise_address": "threads",
    "normalise_message_id": "threads",
    "open_case": "threads",
}

if not TYPE_CHECKING:  # mypy sees the imports above, and still flags unknown names
    __getattr__ = lazy_getattr(__name__, _HOMES, globals())


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
