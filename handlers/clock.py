"""What time it is, as the caller says.

The domain never reads the system clock itself: ``bot/`` hands a :class:`Clock` (or a ``now``)
down, so a test, a replay or ``dsrbot tick --now`` decides the moment every rule sees, and the
rights handlers can be run "as of" any day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC moment."""
        ...


@dataclass(frozen=True)
class FixedClock:
    """Always the same moment: a batch's start, a scheduler tick, a test's day."""

    at: datetime

    def now(self) -> datetime:
        return self.at
