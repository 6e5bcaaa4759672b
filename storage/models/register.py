"""The register's tables: customers (exactly the data the privacy notice lists), orders,
invoices, parties, field provenance, disclosures, field changes and legal holds.
"""

from __future__ import annotations

import enum
import unicodedata
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, String
from sqlmodel import Field

# A flush resolves the foreign keys of the table it writes, so the tables they
# name (``fieldchange.case_id`` names ``case``)
# must be registered even when this module is imported alone.
import storage.models.cases  # noqa: F401
from storage.models.base import TableModel

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


class Party(TableModel, table=True):
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


class Customer(TableModel, table=True):
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
    #: A permanent bounce of ``email`` (for staff: letters to it do not arrive), and its status.
    email_undeliverable_at: datetime | None = None
    email_undeliverable_status: str | None = Field(default=None, max_length=16)
    #: Where the record as a whole came from; per-field exceptions live in FieldProvenance.
    source_party_id: int | None = Field(default=None, foreign_key="party.id")
    created_at: datetime
    updated_at: datetime


class Order(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_number: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    customer_id: int = Field(foreign_key="customer.id", index=True)
    ordered_at: date
    description: str = Field(default="", max_length=500)
    amount_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class Invoice(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    invoice_number: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    customer_id: int = Field(foreign_key="customer.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="order.id")
    issued_at: date
    due_date: date
    amount_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default=InvoiceStatus.OPEN.value, max_length=20)


class FieldProvenance(TableModel, table=True):
    """A field that came from a party other than the record's source (e.g. an update service)."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    field: str = Field(max_length=40)
    party_id: int = Field(foreign_key="party.id")
    obtained_at: datetime


class Disclosure(TableModel, table=True):
    """Register data given outside: to whom, which fields, why (credit, collection, law...)."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    party_id: int = Field(foreign_key="party.id")
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=40)
    disclosed_at: datetime


class FieldChange(TableModel, table=True):
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


class LegalHold(TableModel, table=True):
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
