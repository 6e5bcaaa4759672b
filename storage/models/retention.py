"""What is left of a case once its file is deleted (``retention.case_years`` after it closed).

One anonymous row per deleted case: no case id, no customer, no address, no text; only what
the statistics read (how many requests of which types, in which language, how fast, with what
outcome). Dates are days, not moments, so a row cannot be matched to a mail's timestamp.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field

from storage.models.base import TableModel


class CaseStatistic(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str = Field(default="", max_length=8)
    channel: str = Field(default="", max_length=16)
    #: The case's final status: done, refused or withdrawn.
    outcome: str = Field(max_length=24)
    received_on: date
    due_on: date
    closed_on: date | None = None
    extended: bool = False
    deleted_at: datetime = Field(index=True)
