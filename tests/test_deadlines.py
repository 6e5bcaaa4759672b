"""Deadlines: a month from receipt in Helsinki, counted as 1182/71 Art. 3 does, past holidays.

Each test is a calendar case; the weekday is written next to each date so a reader can check it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.deadlines import (
    add_months,
    add_working_days,
    due_date,
    extension_allowed,
    is_working_day,
    local_date,
    non_working_days,
    working_days_between,
)
from tests.helpers import run_cli


def d(iso: str) -> date:
    return date.fromisoformat(iso)


# --- month ends and leap years -------------------------------------------------------------------

def test_deadline_is_the_same_date_next_month() -> None:
    assert due_date(d("2026-03-02")) == d("2026-04-02")  # Mon -> Thu


def test_deadline_from_jan_31_is_the_last_day_of_february() -> None:
    assert due_date(d("2030-01-31")) == d("2030-02-28")  # Thu


def test_deadline_from_mar_31_is_apr_30() -> None:
    assert due_date(d("2026-03-31")) == d("2026-04-30")  # Thu


def test_deadline_from_jan_29_30_31_of_a_leap_year_is_feb_29() -> None:
    for day in ("2028-01-29", "2028-01-30", "2028-01-31"):
        assert due_date(d(day)) == d("2028-02-29")  # Tue
    assert due_date(d("2028-01-28")) == d("2028-02-28")  # Mon


def test_deadline_from_feb_29_is_mar_29() -> None:
    assert due_date(d("2028-02-29")) == d("2028-03-29")  # Wed


def test_month_end_that_falls_on_a_weekend_rolls_to_monday() -> None:
    # 31 Jan 2026 -> 28 Feb 2026 is a Saturday -> Monday 2 March.
    assert due_date(d("2026-01-31")) == d("2026-03-02")


def test_months_are_counted_across_the_year_end() -> None:
    assert add_months(d("2026-12-31"), 2) == d("2027-02-28")
    assert add_months(d("2027-11-30"), 3) == d("2028-02-29")


# --- weekends and Finnish holidays ---------------------------------------------------------------

def test_deadline_on_a_saturday_moves_to_monday() -> None:
    assert due_date(d("2026-02-07")) == d("2026-03-09")  # 7 Mar 2026 is a Saturday


def test_deadline_on_a_sunday_moves_to_monday() -> None:
    assert due_date(d("2026-02-08")) == d("2026-03-09")  # 8 Mar 2026 is a Sunday


def test_deadline_moves_past_good_friday_and_easter_monday() -> None:
    # 3 Apr 2026 Good Friday, 4-5 weekend, 6 Easter Monday -> Tuesday 7 April.
    assert due_date(d("2026-03-03")) == d("2026-04-07")


def test_deadline_on_easter_monday_moves_to_tuesday() -> None:
    assert due_date(d("2026-03-06")) == d("2026-04-07")


def test_deadline_moves_past_ascension_day() -> None:
    assert due_date(d("2026-04-14")) == d("2026-05-15")  # Thu 14 May 2026 -> Fri


def test_deadline_moves_past_midsummer_eve() -> None:
    # Fri 19 Jun 2026 Midsummer Eve (150/1930 § 5), Sat Midsummer Day -> Monday 22 June.
    assert due_date(d("2026-05-19")) == d("2026-06-22")


def test_deadline_moves_past_epiphany_on_a_wednesday() -> None:
    # Wed 6 Jan 2027 -> Thursday 7th. (Midsummer Day and All Saints' Day are always Saturdays,
    # so a deadline on them cannot tell the holiday from the weekend: see the weekday ones.)
    assert due_date(d("2026-12-06")) == d("2027-01-07")


def test_deadline_moves_past_christmas_eve() -> None:
    # Mon 24 Dec 2029 Christmas Eve, Tue Christmas Day, Wed St Stephen's -> Thursday 27th.
    assert due_date(d("2029-11-24")) == d("2029-12-27")


def test_deadline_moves_past_christmas_day() -> None:
    assert due_date(d("2026-11-25")) == d("2026-12-28")  # Fri 25 Dec 2026 -> Mon 28


def test_deadline_moves_past_st_stephens_day() -> None:
    assert due_date(d("2028-11-26")) == d("2028-12-27")  # Tue 26 Dec 2028 -> Wed 27


def test_deadline_moves_past_new_years_day() -> None:
    assert due_date(d("2026-12-01")) == d("2027-01-04")  # Fri 1 Jan 2027 -> Mon 4


def test_deadline_moves_past_epiphany() -> None:
    assert due_date(d("2026-12-06")) == d("2027-01-07")  # Wed 6 Jan 2027 -> Thu 7


def test_deadline_moves_past_may_day() -> None:
    assert due_date(d("2026-04-01")) == d("2026-05-04")  # Fri 1 May 2026 -> Mon 4


def test_deadline_moves_past_independence_day() -> None:
    assert due_date(d("2027-11-06")) == d("2027-12-07")  # Mon 6 Dec 2027 -> Tue 7


@pytest.mark.parametrize("day", [
    "2026-01-06",  # Tue, Epiphany
    "2026-04-03",  # Fri, Good Friday
    "2026-04-06",  # Mon, Easter Monday
    "2026-05-01",  # Fri, May Day (§ 5)
    "2026-05-14",  # Thu, Ascension Day
    "2027-12-06",  # Mon, Independence Day (§ 5)
])
def test_a_holiday_on_a_weekday_is_never_a_working_day(day: str) -> None:
    assert d(day).weekday() < 5  # a weekend date would pass without the holiday calendar
    assert not is_working_day(d(day))


def test_holidays_package_has_the_section_5_days_and_we_add_them_anyway() -> None:
    fi = holidays.country_holidays("FI", years=2026)
    for day in ("2026-12-24", "2026-06-19", "2026-05-01", "2026-12-06"):
        assert d(day) in fi
        assert d(day) in non_working_days(2026)


@pytest.mark.parametrize("year", range(2024, 2041))
def test_midsummer_eve_is_never_a_working_day(year: int) -> None:
    eves = [date(year, 6, day) for day in range(19, 26) if date(year, 6, day).weekday() == 4]
    assert len(eves) == 1 and not is_working_day(eves[0])


# --- Helsinki time -------------------------------------------------------------------------------

def test_receipt_date_is_taken_in_helsinki_at_the_midnight_boundary() -> None:
    late = datetime(2030, 1, 31, 23, 30, tzinfo=UTC)  # 01:30 on 1 Feb in Helsinki
    assert local_date(late) == d("2030-02-01")
    assert due_date(late) == d("2030-03-01")  # not 28 Feb
    assert due_date(datetime(2030, 1, 31, 21, 59, tzinfo=UTC)) == d("2030-02-28")


def test_receipt_date_uses_helsinki_summer_time() -> None:
    # 21:30 UTC on 30 June is 00:30 on 1 July (EEST, UTC+3): due 1 Aug 2026, a Saturday -> 3rd.
    assert due_date(datetime(2026, 6, 30, 21, 30, tzinfo=UTC)) == d("2026-08-03")
    assert due_date(datetime(2026, 6, 30, 20, 59, tzinfo=UTC)) == d("2026-07-30")


def test_a_naive_datetime_is_helsinki_time() -> None:
    assert local_date(datetime(2030, 1, 31, 23, 30)) == d("2030-01-31")


# --- extension -----------------------------------------------------------------------------------

def test_extension_is_three_months_from_the_original_receipt() -> None:
    assert due_date(d("2026-03-02"), extended=True) == d("2026-06-02")
    # First due 7 Apr (after Easter) but the extension still counts from 3 Jan: 3 Apr -> 7 Apr.
    assert due_date(d("2026-01-03"), extended=True) == d("2026-04-07")


def test_extended_deadline_rolls_past_a_weekend_and_may_day() -> None:
    # 29 Jan 2028 + 3 months = Sat 29 Apr; Sun 30; Mon 1 May (May Day) -> Tuesday 2 May.
    assert due_date(d("2028-01-29"), extended=True) == d("2028-05-02")


def test_extension_only_within_the_first_month() -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=UTC)  # due Thu 2 Apr 2026
    assert extension_allowed(received, datetime(2026, 4, 2, 20, 59, tzinfo=UTC))
    # 21:30 UTC on 2 April is already 3 April in Helsinki: the first month has run out.
    assert not extension_allowed(received, datetime(2026, 4, 2, 21, 30, tzinfo=UTC))
    assert not extension_allowed(received, d("2026-05-01"))


def test_extension_window_includes_the_rolled_first_due_date() -> None:
    # Received 3 Mar 2026: the month ends on Good Friday and runs until Tue 7 April.
    assert extension_allowed(d("2026-03-03"), d("2026-04-07"))
    assert not extension_allowed(d("2026-03-03"), d("2026-04-08"))


# --- working days --------------------------------------------------------------------------------

def test_add_working_days_skips_weekends_and_holidays() -> None:
    assert add_working_days(d("2026-12-23"), 1) == d("2026-12-28")  # over Christmas
    assert add_working_days(d("2026-12-28"), -1) == d("2026-12-23")
    assert add_working_days(d("2026-12-24"), 0) == d("2026-12-24")


def test_working_days_between_counts_working_days_after_the_start() -> None:
    assert working_days_between(d("2026-12-23"), d("2026-12-28")) == 1
    assert working_days_between(d("2026-12-28"), d("2026-12-23")) == -1
    assert working_days_between(d("2026-03-02"), d("2026-03-09")) == 5


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_deadline_is_a_working_day_about_a_month_later(received: date) -> None:
    due = due_date(received)
    assert is_working_day(due)
    assert timedelta(days=28) <= due - received <= timedelta(days=31 + 5)
    assert due_date(received, extended=True) >= due


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
       st.integers(min_value=-40, max_value=40))
def test_add_working_days_and_working_days_between_agree(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert working_days_between(start, end) == n


# --- CLI -----------------------------------------------------------------------------------------

def test_deadline_cli_prints_received_and_due_per_date() -> None:
    result = run_cli("deadline", "2026-03-03", "2030-01-31T23:30:00Z", "2030-01-31T23:30")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "2026-03-03 2026-04-07", "2030-02-01 2030-03-01", "2030-01-31 2030-02-28"]


def test_deadline_cli_extended() -> None:
    result = run_cli("deadline", "2028-01-29", "--extended")
    assert result.stdout.splitlines() == ["2028-01-29 2028-05-02"]


def test_deadline_cli_names_a_bad_date_and_exits_2() -> None:
    result = run_cli("deadline", "2026-03-03", "2026-02-30")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "dsrbot: not a date: '2026-02-30' (use YYYY-MM-DD or an ISO datetime)"]
