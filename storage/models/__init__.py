"""The one place that defines what the register, a case, a message and an audit entry are.

The customer table holds exactly the data the privacy notice lists (name, organisation and
position, email, postal address, phone, www, IP number) plus what the notice's rules need
(relationship dates for the 10-year retention, the ban and restriction flags, the org-contact
flag that blocks erasure). Nothing else personal is stored here by design.

One module per area: ``register`` (customers, orders, invoices, parties, provenance, holds),
``mail`` (inbound and outbound messages, IMAP state), ``cases`` (cases, their threads,
challenges and reminders), ``retention`` (what is left of a deleted case) and ``staff``
(staff, the audit log, the chat's messages). :func:`load_all` imports every table: the
complete metadata Alembic reads.

Importing the package loads none of them: each name is imported from its module on first use
(PEP 562), and a module imports the modules whose tables its foreign keys name, so whatever a
command writes can be flushed. ``dsrbot cases`` thus builds the case, register and staff
tables only, not the mail, health and retention ones (issue 20: start-up under 0.5 s). The
imports under ``TYPE_CHECKING`` give mypy and import-linter the same names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mailformat.lazy import lazy_getattr

if TYPE_CHECKING:
    from storage.models.cases import (
        Case,
        CaseCounter,
        CaseStatus,
        CaseThreadRef,
        IdentityChallenge,
        SentReminder,
        UsedSignature,
    )
    from storage.models.health import CanaryProbe, HealthIncident
    from storage.models.mail import (
        ImapState,
        InboundMessage,
        InboundState,
        OutboundAttachment,
        OutboundMessage,
        OutboundState,
    )
    from storage.models.register import (
        PERSONAL_FIELDS,
        Customer,
        Disclosure,
        DisclosurePurpose,
        FieldChange,
        FieldProvenance,
        Invoice,
        InvoiceStatus,
        LegalHold,
        Order,
        Party,
        PartyKind,
        normalise_email,
    )
    from storage.models.retention import CaseStatistic
    from storage.models.staff import (
        AuditEntry,
        ChatCaseMessage,
        ChatNotification,
        ChatNotificationState,
        Staff,
        StaffRole,
    )

#: Every table module (``storage.staff_logins`` keeps the desk's two tables apart).
MODULES = ("cases", "health", "mail", "register", "retention", "staff")

_HOMES = {
    "Case": "cases",
    "CaseCounter": "cases",
    "CaseStatus": "cases",
    "CaseThreadRef": "cases",
    "IdentityChallenge": "cases",
    "SentReminder": "cases",
    "UsedSignature": "cases",
    "CanaryProbe": "health",
    "HealthIncident": "health",
    "ImapState": "mail",
    "InboundMessage": "mail",
    "InboundState": "mail",
    "OutboundAttachment": "mail",
    "OutboundMessage": "mail",
    "OutboundState": "mail",
    "PERSONAL_FIELDS": "register",
    "Customer": "register",
    "Disclosure": "register",
    "DisclosurePurpose": "register",
    "FieldChange": "register",
    "FieldProvenance": "register",
    "Invoice": "register",
    "InvoiceStatus": "register",
    "LegalHold": "register",
    "Order": "register",
    "Party": "register",
    "PartyKind": "register",
    "normalise_email": "register",
    "CaseStatistic": "retention",
    "AuditEntry": "staff",
    "ChatCaseMessage": "staff",
    "ChatNotification": "staff",
    "ChatNotificationState": "staff",
    "Staff": "staff",
    "StaffRole": "staff",
}

__getattr__ = lazy_getattr(__name__, _HOMES, globals())


def load_all() -> None:
    """Register every table on ``SQLModel.metadata`` (Alembic compares and migrates them all)."""
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")


__all__ = [
    "PERSONAL_FIELDS",
    "AuditEntry",
    "CanaryProbe",
    "Case",
    "CaseCounter",
    "CaseStatistic",
    "CaseStatus",
    "CaseThreadRef",
    "ChatCaseMessage",
    "ChatNotification",
    "ChatNotificationState",
    "Customer",
    "Disclosure",
    "DisclosurePurpose",
    "FieldChange",
    "FieldProvenance",
    "HealthIncident",
    "IdentityChallenge",
    "ImapState",
    "InboundMessage",
    "InboundState",
    "Invoice",
    "InvoiceStatus",
    "LegalHold",
    "Order",
    "OutboundAttachment",
    "OutboundMessage",
    "OutboundState",
    "Party",
    "PartyKind",
    "SentReminder",
    "Staff",
    "StaffRole",
    "UsedSignature",
    "normalise_email",
]
