"""The one place that defines what the register, a case, a message and an audit entry are.

The customer table holds exactly the data the privacy notice lists (name, organisation and
position, email, postal address, phone, www, IP number) plus what the notice's rules need
(relationship dates for the 10-year retention, the ban and restriction flags, the org-contact
flag that blocks erasure). Nothing else personal is stored here by design.

One module per area: ``register`` (customers, orders, invoices, parties, provenance, holds),
``mail`` (inbound and outbound messages, IMAP state), ``cases`` (cases, their threads,
challenges and reminders), ``retention`` (what is left of a deleted case) and ``staff``
(staff, the audit log, the chat's messages). Every table is imported here, so
``storage.models`` is the complete metadata Alembic reads.
"""

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
