"""Health tables: mailbox canary probes and the incidents staff were alerted about.

Why incidents are rows: an alert must go out once per incident and once on recovery, also
with several instances on one database. ``open_key`` holds the incident's kind while it is
open and NULL once closed; its unique constraint lets only one open incident per kind exist,
so the instance whose insert wins is the one that alerts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, String
from sqlmodel import Field

# A flush resolves the foreign keys of the table it writes, so the tables they
# name (a probe names its inbound and outbound messages)
# must be registered even when this module is imported alone.
import storage.models.mail  # noqa: F401
from storage.models.base import TableModel


class CanaryProbe(TableModel, table=True):
    """One probe mailed to our own address through the real outgoing path."""

    id: int | None = Field(default=None, primary_key=True)
    #: Interval number since the epoch: unique, so one probe per interval across instances.
    slot: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    #: SHA-256 of the random token in the probe's header (the token itself is not stored).
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    outbound_id: int | None = Field(default=None, foreign_key="outboundmessage.id")
    created_at: datetime = Field(index=True)
    arrived_at: datetime | None = Field(default=None, index=True)
    round_trip_seconds: float | None = None
    inbound_id: int | None = Field(default=None, foreign_key="inboundmessage.id")


class HealthIncident(TableModel, table=True):
    """A health problem staff were told about (``canary`` late, ``silence``)."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    #: ``kind`` while open, NULL once closed (unique: one open incident per kind).
    open_key: str | None = Field(default=None, sa_column=Column(String(16), unique=True))
    detail: str = Field(default="", max_length=300)
    opened_at: datetime
    closed_at: datetime | None = None
