"""``/login`` and ``/logout``: personal credentials, double-submit CSRF before a session exists."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.web.app import Desk, desk_of, form_with_csrf, to_login
from bot.web.auth import LoginResult, check_login
from bot.web.sessions import LOGIN_COOKIE, SESSION_COOKIE
from storage import audit

FAILURE_TEXT = {
    "bad": "Wrong username, password or code.",
    "inactive": "Wrong username, password or code.",
    "locked": "Too many failed attempts: this login is locked for 15 minutes.",
}


def _login_form(desk: Desk, message: str = "", status: int = 200) -> Response:
    token, cookie = desk.sessions.login_token()
    response = desk.page("login.html.j2", status, me=None, csrf_token=token, message=message)
    desk.set_cookie(response, LOGIN_COOKIE, cookie, path="/login")
    return response


async def home(request: Request) -> Response:
    return RedirectResponse("/cases", status_code=303)


async def login_page(request: Request) -> Response:
    desk = desk_of(request)
    if await desk.staffer(request) is not None:
        return RedirectResponse("/cases", status_code=303)
    return _login_form(desk)


def _attempt(desk: Desk, name: str, password: str, otp: str) -> LoginResult:
    with desk.db.session() as session:
        return check_login(session, name, password, otp, desk.settings.chat.staff,
                           now=desk.clock())


async def login(request: Request) -> Response:
    desk = desk_of(request)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not desk.sessions.login_token_ok(values.get("csrf_token", ""),
                                        request.cookies.get(LOGIN_COOKIE)):
        return desk.error(None, 403, "The form expired or did not come from this site. "
                                     "Please log in again from the login page.")
    result = await run_in_threadpool(_attempt, desk, values.get("username", ""),
                                     values.get("password", ""), values.get("otp", ""))
    if result.failure is not None or result.member is None:
        return _login_form(desk, FAILURE_TEXT.get(result.failure or "bad", ""), 401)
    cookie = await run_in_threadpool(desk.sessions.create, result.member.name, desk.clock())
    response = RedirectResponse("/cases", status_code=303)
    desk.set_cookie(response, SESSION_COOKIE, cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _record_logout(desk: Desk, name: str, session_id: int) -> None:
    desk.sessions.end(session_id)
    with desk.db.session() as session:
        audit.record(session, audit.staff_actor(name), "web.logout", details={})


async def logout(request: Request) -> Response:
    desk = desk_of(request)
    staffer = await desk.staffer(request)
    if staffer is None:
        return to_login()
    if await form_with_csrf(request, staffer) is None:
        return desk.error(staffer, 403, "Missing or wrong form token; nothing was done.")
    await run_in_threadpool(_record_logout, desk, staffer.member.name,
                            staffer.session.session_id)
    response = to_login()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
