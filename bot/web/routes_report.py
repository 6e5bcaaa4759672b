"""``/reports`` and ``/reports.csv``: how the team is doing, for the annual review.

The figures come from :func:`handlers.desk_report.build_report`, over every case and every
anonymous statistic a case deleted after ``retention.case_years`` left (so a purged month keeps
its figures); the chart is SVG drawn on the server (no script, no CDN) and the CSV's cells go
through :func:`handlers.csv_safe.safe_cell` so a spreadsheet never evaluates one. Reporting
holds no personal data: viewers may see it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web import present
from bot.web.app import Desk, desk_of, to_login
from handlers.case_status import CLOSED
from handlers.csv_safe import safe_cell
from handlers.desk_report import CaseFacts, MonthRow, Report, build_report
from storage import audit, desk_queries
from storage.models import CaseStatus

CHART_HEIGHT = 160
BAR_WIDTH = 28
BAR_GAP = 10


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    label: str
    value: int


def _moment(value: datetime | date) -> datetime | date:
    """A case's moment (made aware), or the local date a purged case's statistic kept."""
    return present.aware(value) if isinstance(value, datetime) else value


def load_report(desk: Desk) -> Report:
    with desk.db.read_session() as session:
        rows = desk_queries.report_rows(session)
    facts = (CaseFacts(tuple(r.types), r.language, r.status, _moment(r.received_at), r.due,
                       _moment(r.closed_at) if r.closed_at else None)
             for r in rows)
    open_statuses = [s.value for s in CaseStatus if s not in CLOSED]
    return build_report(facts, open_statuses=open_statuses,
                        tz=desk.settings.organisation.timezone)


def bars(months: list[MonthRow]) -> list[Bar]:
    top = max((m.requests for m in months), default=0) or 1
    out = []
    for i, m in enumerate(months[-24:]):
        height = round(m.requests / top * CHART_HEIGHT)
        out.append(Bar(x=40 + i * (BAR_WIDTH + BAR_GAP), y=10 + CHART_HEIGHT - height,
                       height=height, label=m.month, value=m.requests))
    return out


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return ""
    return f"{value * 100:.1f}" if pct else f"{value:g}"


def csv_text(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["month", "requests", *(f"type_{t}" for t in report.types),
              *(f"language_{lang}" for lang in report.languages), "closed", "closed_on_time",
              "on_time_percent", "median_days_to_close", "p90_days_to_close"]
    writer.writerow([safe_cell(h) for h in header])
    for row in [*report.months, report.total]:
        writer.writerow([safe_cell(v) for v in (
            row.month, row.requests, *(row.by_type.get(t, 0) for t in report.types),
            *(row.by_language.get(lang, 0) for lang in report.languages), row.closed,
            row.on_time, _fmt(row.on_time_rate, pct=True), _fmt(row.median_days),
            _fmt(row.p90_days))])
    return out.getvalue()


async def report_page(request: Request) -> Response:
    desk = desk_of(request)
    staffer = await desk.staffer(request)
    if staffer is None:
        return to_login()
    report = await run_in_threadpool(load_report, desk)
    chart = bars(report.months)
    width = 40 + max(len(chart), 1) * (BAR_WIDTH + BAR_GAP) + 10
    return desk.page("report.html.j2", me=staffer, r=report, bars=chart, chart_width=width,
                     chart_height=CHART_HEIGHT, fmt=_fmt)


def _audit_download(desk: Desk, actor: str, months: int) -> None:
    with desk.db.session() as session:
        audit.record(session, actor, "web.report_downloaded", details={"months": months})


async def report_csv(request: Request) -> Response:
    desk = desk_of(request)
    staffer = await desk.staffer(request)
    if staffer is None:
        return to_login()
    report = await run_in_threadpool(load_report, desk)
    await run_in_threadpool(_audit_download, desk, staffer.member.actor, len(report.months))
    return Response(csv_text(report).encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="dsr-report.csv"'})


ROUTES = [
    Route("/reports", report_page, methods=["GET"]),
    Route("/reports.csv", report_csv, methods=["GET"]),
]
