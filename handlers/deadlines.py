"""When an answer is due: one month from receipt, rolled past Finnish non-working days.

Why these rules:

* GDPR Art. 12(3) gives one month from receipt, extendable by two further months for complex
  or numerous requests, provided the requester is told within the first month.
* Regulation (EEC, Euratom) No 1182/71 Art. 3 counts a period in months to the same date in the
  last month, or to that month's last day when the date does not exist (31 Jan -> 28/29 Feb),
  and moves an end on a Saturday, Sunday or public holiday to the next working day.
* Finnish law on computing time limits (150/1930 § 5) also treats Christmas Eve, Midsummer Eve,
  May Day and Independence Day as non-working. The ``holidays`` package (country "FI") lists
  them today; they are added explicitly as well, so a change in that package cannot shorten a
  deadline.
* The receipt date is the date in Helsinki: a mail at 23:30 UTC on 31 January arrives on
  1 February there, and that is the date the requester and the staff see.

The extended deadline is counted the same way from the original receipt (receipt + 3 months),
not from the first due date, so that rolling the first end past a holiday never lengthens the
extension.
"""

from __future__ import annotations

import calendar
import functools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.policy import DEFAULT_TIMEZONE

DEFAULT_TZ = DEFAULT_TIMEZONE
#: GDPR Art. 12(3): one month, plus two further months when extended.
FIRST_PERIOD_MONTHS = 1
EXTENSION_MONTHS = 2


def add_months(d: date, months: int) -> date:
    """Same day ``months`` later, or that month's last day when the day does not exist."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _midsummer_eve(year: int) -> date:
    """Midsummer Eve is the Friday between 19 and 25 June."""
    start = date(year, 6, 19)
    return start + timedelta(days=(4 - start.weekday()) % 7)


@functools.cache
def non_working_days(year: int) -> frozenset[date]:
    """Finnish public holidays plus the § 5 days, for one year (cached: the calendar is fixed)."""
    import holidays  # here, not at the top: most CLI commands never roll a deadline

    public = set(holidays.country_holidays("FI", years=year).keys())
    public |= {date(year, 12, 24), _midsummer_eve(year), date(year, 5, 1), date(year, 12, 6)}
    return frozenset(public)


def is_working_day(d: date) -> bool:
    """Monday to Friday and not a Finnish public holiday or a § 5 day."""
    return d.weekday() < 5 and d not in non_working_days(d.year)


def next_working_day(d: date) -> date:
    """``d`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(d):
        d += timedelta(days=1)
    return d


def add_working_days(d: date, n: int) -> date:
    """The date ``n`` working days after ``d`` (before it when ``n`` is negative); ``d`` when 0."""
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        d += step
        if is_working_day(d):
            remaining -= 1
    return d


def working_days_between(start: date, end: date) -> int:
    """How many working days ``add_working_days`` must step from ``start`` to reach ``end``.

    Forward: working days after ``start`` up to and including ``end``. Backward (``end`` earlier):
    minus the working days from ``end`` up to, not including, ``start``. So
    ``add_working_days(start, working_days_between(start, end)) == end`` whenever ``end`` is a
    working day.
    """
    if end < start:
        return -sum(1 for i in range((start - end).days) if is_working_day(end + timedelta(i)))
    return sum(1 for i in range(1, (end - start).days + 1) if is_working_day(start + timedelta(i)))


def local_date(moment: datetime | date, tz: str = DEFAULT_TZ) -> date:
    """The calendar date of ``moment`` in ``tz``; a naive datetime is taken as ``tz`` time."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            return moment.date()
        return moment.astimezone(ZoneInfo(tz)).date()
    return moment


def due_date(received_at: datetime | date, *, extended: bool = False, tz: str = DEFAULT_TZ) -> date:
    """The last day to answer: receipt + 1 month (3 when extended), rolled to a working day."""
    months = FIRST_PERIOD_MONTHS + (EXTENSION_MONTHS if extended else 0)
    return next_working_day(add_months(local_date(received_at, tz), months))


def extension_allowed(
    received_at: datetime | date, now: datetime | date, *, tz: str = DEFAULT_TZ
) -> bool:
    """An extension may be made only while the first month runs (up to its due date)."""
    return local_date(now, tz) <= due_date(received_at, tz=tz)
