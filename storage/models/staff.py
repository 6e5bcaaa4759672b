"""Staff, the audit log, and the chat's notifications and case messages.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, String, UniqueConstraint
from sqlmodel import Field

# A flush resolves the foreign keys of the table it writes, so the tables they
# name (the chat rows' ``case_id`` names ``case``)
# must be registered even when this module is imported alone.
import storage.models.cases  # noqa: F401
from storage.models.base import TableModel
from storage.states import ChatNotificationState as ChatNotificationState  # re-exported


class StaffRole(enum.StrEnum):
    APPROVER = "approver"
    VIEWER = "viewer"


class Staff(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), unique=True, nullable=False))
    telegram_user_id: int | None = Field(default=None, sa_column=Column(BigInteger, unique=True))
    role: str = Field(default=StaffRole.VIEWER.value, max_length=16)
    active: bool = True


class AuditEntry(TableModel, table=True):
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



class ChatNotification(TableModel, table=True):
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


class ChatCaseMessage(TableModel, table=True):
    """Which chat message shows which case, so later changes edit that message in place."""

    __table_args__ = (UniqueConstraint("case_id", "chat_id", name="uq_chatcasemessage_case_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=20)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: ``Case.updated_at`` as last shown; a newer case change means the message is stale.
    synced_at: datetime
