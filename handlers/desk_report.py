"""How the team is doing, for the privacy officer's annual review: counts, speed, punctuality.

Why these figures: the GDPR's clock is one month (three when extended), so the review asks
how many requests came (per month, by type and language), how long answering took (median
and 90th percentile of calendar days from receipt to closing, the figures DataGrail- and
OneTrust-style reports give), what share was answered on time, and what is open now. Pure
functions over plain rows, so the web page, the CSV and the tests share one computation.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from handlers import deadlines


@dataclass(frozen=True)
class CaseFacts:
    """What reporting needs of one case (no personal data). A case deleted after
    ``retention.case_years`` is reported from its statistic, which kept local dates only."""

    types: tuple[str, ...]
    language: str
    status: str
    received_at: datetime | date
    due: date
    closed_at: datetime | date | None


@dataclass
class MonthRow:
    month: str
    requests: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_language: Counter[str] = field(default_factory=Counter)
    closed: int = 0
    on_time: int = 0
    days_to_close: list[int] = field(default_factory=list)

    @property
    def median_days(self) -> float | None:
        return percentile(self.days_to_close, 50)

    @property
    def p90_days(self) -> float | None:
        return percentile(self.days_to_close, 90)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.closed if self.closed else None


@dataclass(frozen=True)
class Report:
    months: list[MonthRow]
    total: MonthRow
    open_by_status: dict[str, int]
    types: list[str]
    languages: list[str]


def percentile(values: Sequence[int], pct: float) -> float | None:
    """Nearest-rank percentile (the value at or below which ``pct`` % of values lie)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def _add(row: MonthRow, facts: CaseFacts, tz: str) -> None:
    row.requests += 1
    row.by_type.update(facts.types or ("unclear",))
    row.by_language[facts.language] += 1
    if facts.closed_at is not None:
        closed_on = deadlines.local_date(facts.closed_at, tz)
        row.closed += 1
        row.days_to_close.append(
            (closed_on - deadlines.local_date(facts.received_at, tz)).days)
        row.on_time += closed_on <= facts.due


def build_report(cases: Iterable[CaseFacts], *, open_statuses: Iterable[str],
                 tz: str = deadlines.DEFAULT_TZ) -> Report:
    """Months in order of receipt; ``total`` over all; open cases counted by status."""
    months: dict[str, MonthRow] = {}
    total = MonthRow("total")
    open_set = set(open_statuses)
    open_by_status: Counter[str] = Counter()
    for facts in cases:
        key = deadlines.local_date(facts.received_at, tz).strftime("%Y-%m")
        _add(months.setdefault(key, MonthRow(key)), facts, tz)
        _add(total, facts, tz)
        if facts.status in open_set:
            open_by_status[facts.status] += 1
    return Report(months=[months[k] for k in sorted(months)], total=total,
                  open_by_status=dict(sorted(open_by_status.items())),
                  types=sorted(total.by_type), languages=sorted(total.by_language))
