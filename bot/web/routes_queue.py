"""``/cases``: the open cases, soonest due first, coloured on time / due soon / overdue.

Why paged: the counts at the top cover every open case (what a privacy officer glances at),
while the table shows a page of them, so a queue of ten thousand stays a light page on a phone.
An approver's look at the requesters is audited once per page view, with the count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.settings import REQUEST_TYPES
from bot.web import present
from bot.web.app import Desk, Staffer, desk_of, to_login
from handlers.case_status import CLOSED
from storage import audit, desk_queries
from storage.models import CaseStatus

PAGE_SIZE = 200
OPEN_STATUSES = [s.value for s in CaseStatus if s not in CLOSED]


@dataclass(frozen=True)
class QueueLine:
    id: str
    types: str
    language: str
    status: str
    requester: str
    received: str
    due: str
    days_left: int
    state: str
    assignee: str


def _choice(value: str | None, allowed: list[str]) -> str:
    return value if value in allowed else ""


def load_queue(desk: Desk, staffer: Staffer, status: str, kind: str, page: int
               ) -> dict[str, Any]:
    tz = desk.settings.organisation.timezone
    clock = present.DueClock(present.local_day(desk.clock(), tz))
    closed = [s.value for s in CLOSED]
    with desk.db.read_session() as session:
        by_due = desk_queries.open_queue_due_counts(session, closed, status=status, kind=kind)
        total = sum(n for _, n in by_due)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        rows = desk_queries.open_queue(session, closed, status=status, kind=kind,
                                       limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    counts: Counter[str] = Counter()
    for due, n in by_due:
        counts[clock.state(due)] += n
    role = staffer.member.role
    lines = [QueueLine(
        id=r.id, types=", ".join(r.types) or "(unclear)", language=r.language,
        status=r.status, requester=present.requester(r.requester, role),
        received=present.local(r.received_at, tz, "%Y-%m-%d"), due=r.due.isoformat(),
        days_left=clock.days_left(r.due), state=clock.state(r.due), assignee=r.assignee or "")
        for r in rows]
    if present.sees_personal_data(role) and lines:
        with desk.db.session() as session:
            audit.record(session, staffer.member.actor, "web.queue_viewed", details={
                "cases": len(lines), "page": page, "status": status, "type": kind})
    return {"lines": lines, "total": total, "counts": counts, "page": page, "pages": pages}


async def queue(request: Request) -> Response:
    desk = desk_of(request)
    staffer = await desk.staffer(request)
    if staffer is None:
        return to_login()
    status = _choice(request.query_params.get("status"), OPEN_STATUSES)
    kind = _choice(request.query_params.get("type"), list(REQUEST_TYPES))
    raw_page = request.query_params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() else 1
    data = await run_in_threadpool(load_queue, desk, staffer, status, kind, page)
    return desk.page("queue.html.j2", me=staffer, status=status, type=kind,
                     statuses=OPEN_STATUSES, types=REQUEST_TYPES,
                     state_labels=present.STATE_LABELS, **data)


ROUTES = [Route("/cases", queue, methods=["GET"])]
