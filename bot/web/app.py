"""The desk's ASGI app: routes, templates, the session gate. Built from settings, no globals.

Why Starlette and server-rendered pages: a handful of forms and tables that must work without
JavaScript and on a phone; Starlette adds routing and forms to plain ASGI and nothing else.
Database work is synchronous (SQLModel), so each route hands it to the thread pool.
Templates ship with the code and render in a sandboxed Jinja2 environment with autoescaping:
mail text, names and file names are printed, never interpreted.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from bot.settings import Settings
from bot.web import present
from bot.web.actions import DeskActions
from bot.web.auth import Member, find_member
from bot.web.security import SecurityHeaders
from bot.web.sessions import SESSION_COOKIE, Active, SessionStore, csrf_ok
from handlers.cases import staff_denial
from storage.db import Database

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


@dataclass
class Staffer:
    """The logged-in person for one request."""

    member: Member
    session: Active

    @property
    def csrf(self) -> str:
        return self.session.csrf_token


class Desk:
    """What every route needs: settings, the database, sessions, templates, actions."""

    def __init__(self, settings: Settings, db: Database, *,
                 on_change: Callable[[], None] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.db = db
        self.on_change = on_change or (lambda: None)
        self.clock = clock or (lambda: datetime.now(UTC))
        web = settings.web
        secret = settings.secret(web.secret_key, web.secret_key_file)
        if secret is None:
            log.warning("web.secret_key is not set: a random key signs desk sessions, so staff "
                        "log in again after a restart (set DSRBOT_WEB__SECRET_KEY)")
            secret = secrets.token_urlsafe(32)
        self.sessions = SessionStore(db, secret,
                                     timedelta(minutes=web.session_idle_minutes))
        self.actions = DeskActions(settings, db)
        self.templates = SandboxedEnvironment(
            loader=FileSystemLoader(HERE / "templates"), undefined=StrictUndefined,
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True, lstrip_blocks=True)
        self.templates.globals.update(present=present, org=settings.organisation.name)

    def page(self, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=http_status)

    def error(self, staffer: Staffer | None, status: int, message: str) -> HTMLResponse:
        return self.page("error.html.j2", status, me=staffer, message=message, status=status)

    def set_cookie(self, response: Response, key: str, value: str, *, path: str = "/") -> None:
        response.set_cookie(key, value, httponly=True, samesite="strict", path=path,
                            secure=self.settings.web.secure_cookies)

    async def staffer(self, request: Request) -> Staffer | None:
        """The logged-in, still active staff member, or None (no, bad or idle session)."""
        active = await run_in_threadpool(self.sessions.find, request.cookies.get(SESSION_COOKIE),
                                         self.clock())
        if active is None:
            return None
        member = await run_in_threadpool(self._member, active.name)
        if member is None or staff_denial(member.role, member.active, "view") is not None:
            await run_in_threadpool(self.sessions.end, active.session_id)
            return None
        return Staffer(member, active)

    def _member(self, name: str) -> Member | None:
        with self.db.read_session() as session:
            return find_member(session, name, self.settings.chat.staff)


def desk_of(request: Request) -> Desk:
    desk = request.app.state.desk
    assert isinstance(desk, Desk)
    return desk


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


async def form_with_csrf(request: Request, staffer: Staffer) -> dict[str, str] | None:
    """The posted form, or None when its ``csrf_token`` is missing or wrong."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    return values if csrf_ok(staffer.session, values.get("csrf_token")) else None


def allowed_hosts(settings: Settings) -> list[str]:
    """Host names the desk answers to: loopback, its bind address and ``base_url``'s host.

    Anything else is refused (400), so a web page that rebinds its own DNS name to 127.0.0.1
    cannot make a staff member's browser talk to the desk under a foreign name.
    """
    names = {"127.0.0.1", "localhost", "[::1]", settings.web.host}
    base = urlsplit(settings.web.base_url).hostname
    if base:
        names.add(base)
    return sorted(n for n in names if n not in ("0.0.0.0", "::"))


def build_app(settings: Settings, db: Database, *, on_change: Callable[[], None] | None = None,
              clock: Callable[[], datetime] | None = None) -> Starlette:
    from bot.web import routes_case, routes_login, routes_queue, routes_report

    desk = Desk(settings, db, on_change=on_change, clock=clock)
    routes = [
        *routes_login.ROUTES, *routes_queue.ROUTES, *routes_case.ROUTES, *routes_report.ROUTES,
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings)),
        Middleware(SecurityHeaders)])
    app.state.desk = desk
    return app
