"""Mail tables: inbound messages as stored (raw bytes, dedupe key), the outbox and its
attachments, and the IMAP watcher's position.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, LargeBinary, String, UniqueConstraint
from sqlmodel import Field

# A flush resolves the foreign keys of the table it writes, so the tables they
# name (the messages' ``case_id`` names ``case``)
# must be registered even when this module is imported alone.
import storage.models.cases  # noqa: F401
from storage.models.base import TableModel
from storage.states import InboundState as InboundState  # re-exported
from storage.states import OutboundState as OutboundState


class InboundMessage(TableModel, table=True):
    """Durable inbox: stored and committed before the sender or server is acknowledged."""

    __table_args__ = (
        UniqueConstraint("message_id", "sha256", name="uq_inbound_msgid_sha"),
        UniqueConstraint("message_id", "content_key", name="uq_inbound_msgid_content"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(default="", max_length=998, index=True)
    sha256: str = Field(max_length=64, index=True)
    #: SHA-256 of the mail without its trace headers (Received, Return-Path, Delivered-To...):
    #: the same mail over SMTP and over IMAP has one key, so it is one row.
    content_key: str = Field(default="", max_length=64)
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
    #: When retention or an erasure emptied the row: the raw bytes, addresses and reasons are
    #: gone; the dedupe key (Message-ID, hash), dates and state stay (storage/purge.py).
    purged_at: datetime | None = None
    #: The letter of ours this mail returns (a matched bounce), so an erasure that redacts the
    #: letter finds the notice too (it quotes her address). No foreign key: the letter goes
    #: with its case file after ``retention.case_years``, and that purge clears this link.
    bounce_of: int | None = Field(default=None, index=True)


class OutboundMessage(TableModel, table=True):
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
    #: What makes this letter once-only (``forward:<inbound id>``): unique, so a forward is
    #: written once however often its message is processed, by however many instances.
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(80), unique=True))
    #: A bounce's RFC 3463 status (``5.1.1``) and the remote server's diagnostic.
    bounce_status: str | None = Field(default=None, max_length=16)
    bounce_diagnostic: str | None = Field(default=None, max_length=1000)
    bounced_at: datetime | None = None
    #: The stored mail a forward to customer service carries whole (``kind="forward"``): the
    #: forward is a copy of that mail and goes with it (retention, erasure).
    inbound_id: int | None = Field(default=None, foreign_key="inboundmessage.id", index=True)


class OutboundAttachment(TableModel, table=True):
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
    #: When retention emptied ``data`` (``retention.report_attachments_days`` after delivery);
    #: the file name stays, so the case still shows what was sent.
    purged_at: datetime | None = None


class ImapState(TableModel, table=True):
    """How far the IMAP watcher has stored a mailbox: UIDs are only valid within a UIDVALIDITY."""

    __table_args__ = (UniqueConstraint("account", "mailbox", name="uq_imapstate_account_mailbox"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=400)
    mailbox: str = Field(max_length=300)
    uidvalidity: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime
