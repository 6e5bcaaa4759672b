"""Case look-ups for reminders, the digest and the chat: open, due soon, overdue.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session

from storage import cases as store
from storage.models import Case

# --- queries -------------------------------------------------------------------------------------


def open_cases(session: Session) -> list[Case]:
    """Cases not closed, soonest due first."""
    return store.open_cases(session)


def due_within(session: Session, days: int, today: date) -> list[Case]:
    """Open cases due from ``today`` to ``today + days`` calendar days (both included)."""
    return store.open_cases_due_between(session, today, today + timedelta(days=days))


def overdue(session: Session, today: date) -> list[Case]:
    """Open cases whose applicable due date has passed."""
    return store.open_cases_due_before(session, today)
