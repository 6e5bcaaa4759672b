"""``/cases/{id}``: the case page, its attachments, and the decision forms' POST routes.

Why attachments are served like this: the bytes are the requester's, so they go out with
``nosniff``, a Content-Disposition with a file name reduced to safe ASCII, and a CSP that
runs nothing. Only images and PDFs may show inline (so a scanned signature can be checked on
the page); anything else, SVG included, is a download.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.web import case_page, present
from bot.web.app import Staffer, desk_of, form_with_csrf, to_login
from bot.web.security import ATTACHMENT_CSP, PDF_CSP
from storage.models import StaffRole

_CASE_ID = re.compile(r"DSR-\d{4}-\d{4,6}")
VERBS = ("approve", "refuse", "extend", "assign", "ask", "verify", "ban", "received",
         "authority", "answer_to", "resend", "delivered")


def _case_id(request: Request) -> str | None:
    value = str(request.path_params["case_id"]).upper()
    return value if _CASE_ID.fullmatch(value) else None


async def show(request: Request) -> Response:
    desk = desk_of(request)
    staffer = await desk.staffer(request)
    if staffer is None:
        return to_login()
    case_id = _case_id(request)
    page = await run_in_threadpool(case_page.load, desk.db, desk.settings, staffer.member,
                                   case_id, desk.clock()) if case_id else None
    if page is None:
        return desk.error(staffer, 404, "There is no such case.")
    note = desk.sessions.read_note(request.query_params.get("note"))
    return desk.page("case.html.j2", me=staffer, p=page, note=note,
                     tz=desk.settings.organisation.timezone,
                     approver=staffer.member.role == StaffRole.APPROVER.value,
                     staff_names=page.staff_names)


async def attachment(request: Request) -> Response:
    desk = desk_of(request)
    staffer = await desk.staffer(request)
    if staffer is None:
        return to_login()
    if not present.sees_personal_data(staffer.member.role):
        return desk.error(staffer, 403, "Your role does not show the requester's files.")
    case_id = _case_id(request)
    inline = request.query_params.get("inline") == "1"
    found = await run_in_threadpool(
        case_page.load_attachment, desk.db, staffer.member, case_id or "",
        int(request.path_params["inbound_id"]), int(request.path_params["index"]),
        inline=inline) if case_id else None
    if found is None:
        return desk.error(staffer, 404, "There is no such attachment.")
    index = int(request.path_params["index"])
    name = present.safe_filename(found.filename, f"attachment-{index + 1}")
    show_inline = inline and found.content_type in present.INLINE_TYPES
    ctype = found.content_type if show_inline else "application/octet-stream"
    headers = {
        "Content-Disposition": f'{"inline" if show_inline else "attachment"}; filename="{name}"',
        "Content-Security-Policy": PDF_CSP if ctype == "application/pdf" else ATTACHMENT_CSP,
        "X-Frame-Options": "SAMEORIGIN",
    }
    return Response(found.data, media_type=ctype, headers=headers)


async def act(request: Request) -> Response:
    desk = desk_of(request)
    staffer: Staffer | None = await desk.staffer(request)
    if staffer is None:
        return desk.error(None, 403, "You are not logged in; nothing was done.")
    form = await form_with_csrf(request, staffer)
    if form is None:
        return desk.error(staffer, 403, "Missing or wrong form token; nothing was done. "
                                        "Reload the case page and try again.")
    case_id = _case_id(request)
    verb = str(request.path_params["verb"])
    if case_id is None or verb not in VERBS:
        return desk.error(staffer, 404, "There is no such case or action.")
    result = await run_in_threadpool(desk.actions.decide, staffer.member.name, verb, case_id,
                                     form)
    if result.status in (403, 404):
        return desk.error(staffer, result.status, result.message)
    if result.changed:
        desk.on_change()
    note = desk.sessions.sign_note(result.message)
    return RedirectResponse(f"/cases/{case_id}?note={note}", status_code=303)


ROUTES = [
    Route("/cases/{case_id}", show, methods=["GET"]),
    Route("/cases/{case_id}/messages/{inbound_id:int}/attachments/{index:int}", attachment,
          methods=["GET"]),
    Route("/cases/{case_id}/{verb}", act, methods=["POST"]),
]
