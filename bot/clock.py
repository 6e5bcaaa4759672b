"""The real clock, the one place the running service reads the system time for the domain."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """``handlers.clock.Clock`` backed by the system time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
