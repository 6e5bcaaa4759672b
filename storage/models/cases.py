"""Case tables: the case, its yearly counter, its mail thread, identity challenges and the
reminders already sent (so a restart never sends one twice).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

# A flush resolves the foreign keys of the table it writes, so the tables they
# name (``case.customer_id`` names ``customer``)
# must be registered even when this module is imported alone.
import storage.models.register  # noqa: F401
from storage.models.base import TableModel
from storage.states import CaseStatus as CaseStatus  # re-exported


class Case(TableModel, table=True):
    """A request and where it stands. What the code branches on is a typed column (who decided,
    whether the refusal letter or the extension notice went out, whether carrying it out
    failed); ``details`` keeps what intake found, for staff to read."""

    __table_args__ = (
        # The execution sweep's one query: decided cases whose follow-up is still owed.
        Index("ix_case_sweep", "status", "execution_failed", "refusal_letter_sent"),
    )

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
    #: A reminder's claim that an earlier request was sent on this day (staff search for it;
    #: the deadline may run from then). Only staff move ``received_at``, never the claim.
    claimed_earlier: date | None = None
    #: The representative's address when the request is made for another person (the data
    #: subject is then someone else: nothing personal goes here unless staff choose so).
    on_behalf_of: str | None = Field(default=None, max_length=320)
    #: The letter of authority: ``to_check``, ``checked`` or ``refused`` (who, when, which).
    authority: str | None = Field(default=None, max_length=16)
    authority_by: str | None = Field(default=None, max_length=100)
    authority_at: datetime | None = None
    authority_document: str | None = Field(default=None, max_length=255)
    #: Staff chose, after checking the authority, to answer the representative (audited).
    answer_to_representative: bool = False
    verification_level: str = Field(default="none", max_length=32)
    signature_state: str = Field(default="none", max_length=32)
    assignee: str | None = Field(default=None, max_length=100)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    approved_by: str | None = Field(default=None, max_length=100)
    refused_by: str | None = Field(default=None, max_length=100)
    refusal_reason: str | None = None
    #: The refusal's letter is in the outbox (the certificate, or the neutral letter on expiry).
    refusal_letter_sent: bool = False
    #: Carrying the approved case out failed; staff decide, the sweep does not retry.
    execution_failed: bool = False
    extended_by: str | None = Field(default=None, max_length=100)
    #: The extension notice to the requester is owed (set on extending, cleared when sent).
    extension_notice_pending: bool = Field(default=False, index=True)
    #: Bans set when the case opened, below "verified" (handlers.bans_at_once): carrying the
    #: case out later does not set or confirm them again.
    applied_at_once: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    thread_message_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None


class CaseCounter(TableModel, table=True):
    """Per-year sequence for readable case ids (DSR-2026-0001); row-locked on increment."""

    year: int = Field(primary_key=True)
    last: int = 0


class CaseThreadRef(TableModel, table=True):
    """Index of a case's thread Message-IDs (the request's own and our letters').

    ``Case.thread_message_ids`` holds the same ids for reading; this table lets a follow-up's
    In-Reply-To/References find its case with one indexed lookup instead of a scan of JSON.
    """

    __table_args__ = (UniqueConstraint("case_id", "message_id", name="uq_casethreadref_case_msg"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=20)
    message_id: str = Field(max_length=998, index=True)


class IdentityChallenge(TableModel, table=True):
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


class UsedSignature(TableModel, table=True):
    """A signature that verified a case: one signature verifies one case only, so an old signed
    mail cannot be replayed to verify another request (the key is SHA-256 of its bytes)."""

    sha256: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=20)
    used_at: datetime


class SentReminder(TableModel, table=True):
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
