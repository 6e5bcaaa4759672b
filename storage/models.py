"""The one place that defines what the register, a case, a message and an audit entry are.

The customer table holds exactly the data the privacy notice lists (name, organisation and
position, email, postal address, phone, www, IP number) plus what the notice's rules need
(relationship dates for the 10-year retention, the ban and restriction flags, the org-contact
flag that blocks erasure). Nothing else personal is stored here by design.
"""

from __future__ import annotations

import enum
import unicodedata
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

#: Customer fields that hold personal data from the notice, in the notice's order.
PERSONAL_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "organisation",
    "position",
    "email",
    "postal_address",
    "phone",
    "www",
    "ip_address",
)


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    IN_COLLECTION = "in_collection"


class PartyKind(enum.StrEnum):
    CUSTOMER = "customer"
    AUTHORITY_UPDATE_SERVICE = "authority_update_service"
    COMPANY_UPDATE_SERVICE = "company_update_service"
    SUBCONTRACTOR = "subcontractor"
    PARTNER_SITE = "partner_site"
    FINANCIAL_ADMINISTRATION = "financial_administration"
    CREDIT_INFORMATION = "credit_information"
    DEBT_COLLECTION = "debt_collection"
    AUTHORITY = "authority"


class DisclosurePurpose(enum.StrEnum):
    CREDIT_DECISION = "credit_decision"
    COLLECTION = "collection"
    INVOICING = "invoicing"
    LAW = "law"


class CaseStatus(enum.StrEnum):
    RECEIVED = "received"
    AWAITING_IDENTITY = "awaiting_identity"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DONE = "done"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class InboundState(enum.StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    HELD = "held"


class OutboundState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class StaffRole(enum.StrEnum):
    APPROVER = "approver"
    VIEWER = "viewer"


class Party(SQLModel, table=True):
    """A source or recipient of register data (notice: sources, recipients, disclosures)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    kind: str = Field(max_length=40)
    contact_email: str | None = Field(default=None, max_length=320)


def normalise_email(value: str) -> str:
    """Case-folded, NFKC-normalised, trimmed: the form every email lookup uses.

    It lives beside ``Customer.email_normalised``, the column it fills and every look-up reads.
    """
    return unicodedata.normalize("NFKC", value).strip().casefold()


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_number: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    organisation: str = Field(default="", max_length=300)
    position: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)
    #: Case-folded form of ``email``; every lookup goes through this index.
    email_normalised: str = Field(default="", max_length=320, index=True)
    postal_address: str = Field(default="", max_length=500)
    #: E.164, e.g. ``+358401234567``.
    phone: str = Field(default="", max_length=32)
    www: str = Field(default="", max_length=500)
    ip_address: str = Field(default="", max_length=64)
    relationship_start: date | None = None
    relationship_end: date | None = None
    marketing_ban: bool = False
    publication_ban: bool = False
    processing_restricted: bool = False
    is_org_contact: bool = False
    anonymised_at: datetime | None = None
    #: Where the record as a whole came from; per-field exceptions live in FieldProvenance.
    source_party_id: int | None = Field(default=None, foreign_key="party.id")
    created_at: datetime
    updated_at: datetime


class Order(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_number: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    customer_id: int = Field(foreign_key="customer.id", index=True)
    ordered_at: date
    description: str = Field(default="", max_length=500)
    amount_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class Invoice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    invoice_number: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    customer_id: int = Field(foreign_key="customer.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="order.id")
    issued_at: date
    due_date: date
    amount_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default=InvoiceStatus.OPEN.value, max_length=20)


class FieldProvenance(SQLModel, table=True):
    """A field that came from a party other than the record's source (e.g. an update service)."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    field: str = Field(max_length=40)
    party_id: int = Field(foreign_key="party.id")
    obtained_at: datetime


class Disclosure(SQLModel, table=True):
    """Register data given outside: to whom, which fields, why (credit, collection, law...)."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    party_id: int = Field(foreign_key="party.id")
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=40)
    disclosed_at: datetime


class InboundMessage(SQLModel, table=True):
    """Durable inbox: stored and committed before the sender or server is acknowledged."""

    __table_args__ = (UniqueConstraint("message_id", "sha256", name="uq_inbound_msgid_sha"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(default="", max_length=998, index=True)
    sha256: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    envelope_from: str = Field(default="", max_length=320)
    envelope_to: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime
    state: str = Field(default=InboundState.RECEIVED.value, max_length=16, index=True)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    case_id: str | None = Field(default=None, foreign_key="case.id", index=True)
    processed_at: datetime | None = None
    #: The From addr-spec, lower-cased: the key of the per-sender rate limit (never logged).
    from_address: str = Field(default="", max_length=320, index=True)
    #: Where an IMAP message sits, so the watcher can move it once the pipeline made it a case.
    imap_mailbox: str | None = Field(default=None, max_length=300)
    imap_uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger))
    imap_uid: int | None = Field(default=None, sa_column=Column(BigInteger))
    imap_moved_at: datetime | None = None


class Case(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=20)
    types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=CaseStatus.RECEIVED.value, max_length=24, index=True)
    requester: str = Field(max_length=320)
    language: str = Field(default="fi", max_length=8)
    channel: str = Field(default="email", max_length=16)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    received_at: datetime
    due_date: date = Field(index=True)
    extended: bool = False
    extended_due_date: date | None = None
    extension_reason: str | None = None
    verification_level: str = Field(default="none", max_length=32)
    signature_state: str = Field(default="none", max_length=32)
    assignee: str | None = Field(default=None, max_length=100)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    thread_message_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None


class CaseCounter(SQLModel, table=True):
    """Per-year sequence for readable case ids (DSR-2026-0001); row-locked on increment."""

    year: int = Field(primary_key=True)
    last: int = 0


class OutboundMessage(SQLModel, table=True):
    """Transactional outbox: written in the transaction that caused it, delivered by a loop."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(sa_column=Column(String(998), unique=True, nullable=False))
    case_id: str | None = Field(default=None, foreign_key="case.id", index=True)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=998)
    body_text: str
    body_html: str | None = None
    #: Threading only (In-Reply-To, References), already checked; see mailformat.cleaning.
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Attachments live in OutboundAttachment (bytes, not base64 in JSON).
    state: str = Field(default=OutboundState.PENDING.value, max_length=16, index=True)
    attempts: int = 0
    #: Not before this time. A claim moves it forward by a lease, so a sender that dies
    #: mid-delivery leaves the row due again later (resent with the same Message-ID).
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class Staff(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), unique=True, nullable=False))
    telegram_user_id: int | None = Field(default=None, sa_column=Column(BigInteger, unique=True))
    role: str = Field(default=StaffRole.VIEWER.value, max_length=16)
    active: bool = True


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained. ``details`` never holds personal data, only ids and reasons."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str = Field(max_length=120)
    action: str = Field(max_length=80)
    case_id: str | None = Field(default=None, max_length=20, index=True)
    customer_number: str | None = Field(default=None, max_length=32)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class CaseThreadRef(SQLModel, table=True):
    """Index of a case's thread Message-IDs (the request's own and our letters').

    ``Case.thread_message_ids`` holds the same ids for reading; this table lets a follow-up's
    In-Reply-To/References find its case with one indexed lookup instead of a scan of JSON.
    """

    __table_args__ = (UniqueConstraint("case_id", "message_id", name="uq_casethreadref_case_msg"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=20)
    message_id: str = Field(max_length=998, index=True)


class OutboundAttachment(SQLModel, table=True):
    """A file sent with an outbound message (access report, export, refusal certificate).

    Bytes in their own table rather than base64 in the message row's JSON: no 33% inflation,
    and claiming due rows never drags megabytes of attachments through the query.
    """

    id: int | None = Field(default=None, primary_key=True)
    outbound_id: int = Field(foreign_key="outboundmessage.id", index=True)
    position: int = 0
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ImapState(SQLModel, table=True):
    """How far the IMAP watcher has stored a mailbox: UIDs are only valid within a UIDVALIDITY."""

    __table_args__ = (UniqueConstraint("account", "mailbox", name="uq_imapstate_account_mailbox"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=400)
    mailbox: str = Field(max_length=300)
    uidvalidity: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime


class FieldChange(SQLModel, table=True):
    """History of register corrections (GDPR Art. 16): which field, when, by whom, on what grounds.

    ``old_value`` is kept only while the customer exists; erasure clears it with the customer,
    so the history never outlives the data it describes.
    """

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    field: str = Field(max_length=40)
    old_value: str | None = Field(default=None, max_length=500)
    changed_at: datetime
    actor: str = Field(max_length=120)
    case_id: str | None = Field(default=None, foreign_key="case.id", index=True)
    grounds: str = Field(default="", max_length=1000)


class LegalHold(SQLModel, table=True):
    """Data that legislation (or an authority) requires us to keep: blocks erasure until ``until``.

    ``fields`` lists the customer fields that must be kept; an empty list means all of them.
    """

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reason: str = Field(max_length=40)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    until: date | None = None
    note: str = Field(default="", max_length=500)
    created_at: datetime
    actor: str = Field(max_length=120)


class IdentityChallenge(SQLModel, table=True):
    """A one-time code mailed to the address already in the register (EDPB 01/2022: link the
    new request to the known channel). Only the code's hash is stored; a code has a lifetime,
    an attempt limit and is used once (``consumed_at``), like Fides' identity verification.
    """

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=20)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    #: SHA-256 hex of the code (the code itself is never stored).
    code_hash: str = Field(max_length=64)
    expires_at: datetime
    attempts: int = 0
    max_attempts: int = 5
    consumed_at: datetime | None = None
    created_at: datetime


class ChatNotificationState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ChatNotification(SQLModel, table=True):
    """The staff chat's outbox: a case to show (or re-show), written with the change behind it.

    Delivery renders the case as it is *then* (not as it was when the row was written), so
    several rows for one case collapse into one send or edit, and a late delivery is never stale.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    case_id: str | None = Field(default=None, foreign_key="case.id", index=True, max_length=20)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=ChatNotificationState.PENDING.value, max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    telegram_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    last_error: str | None = Field(default=None, max_length=200)
    created_at: datetime
    sent_at: datetime | None = None


class ChatCaseMessage(SQLModel, table=True):
    """Which chat message shows which case, so later changes edit that message in place."""

    __table_args__ = (UniqueConstraint("case_id", "chat_id", name="uq_chatcasemessage_case_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=20)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: ``Case.updated_at`` as last shown; a newer case change means the message is stale.
    synced_at: datetime


class SentReminder(SQLModel, table=True):
    """What the scheduler has done: one row per reminder, escalation, expiry, digest or
    retention action, keyed so the same thing can never be done twice.

    The row is inserted first, in the same transaction as the action it stands for
    (``INSERT ... ON CONFLICT DO NOTHING``): a second instance, or a restart that repeats a
    tick, finds the key taken and does nothing; a failed action rolls its row back with it.
    ``subject`` is a case id, ``challenge:<id>``, ``customer:<id>`` or ``staff``.
    """

    __table_args__ = (
        UniqueConstraint("kind", "subject", "due_on", name="uq_sentreminder_kind_subject_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=64)
    #: The day the action belongs to (a reminder's scheduled working day, an overdue day...).
    due_on: date
    case_id: str | None = Field(default=None, max_length=20, index=True)
    done_at: datetime = Field(index=True)
    #: Which process did it (host:pid), for operators reading the table.
    instance: str = Field(default="", max_length=100)
