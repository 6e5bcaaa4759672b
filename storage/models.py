"""The one place that defines what the register, a case, a message and an audit entry are.

The customer table holds exactly the data the privacy notice lists (name, organisation and
position, email, postal address, phone, www, IP number) plus what the notice's rules need
(relationship dates for the 10-year retention, the ban and restriction flags, the org-contact
flag that blocks erasure). Nothing else personal is stored here by design.
"""

from __future__ import annotations

import enum
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
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attachments: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    state: str = Field(default=OutboundState.PENDING.value, max_length=16, index=True)
    attempts: int = 0
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
