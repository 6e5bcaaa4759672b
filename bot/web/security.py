"""Security headers on every response, set in one place so no route can forget them.

Why these: the pages carry personal data, so they are never cached (``no-store``); the CSP
allows nothing but our own stylesheet and images (no script at all, inline or not; no
framing of our pages by anyone, ``frame-ancestors 'none'``); ``nosniff`` keeps a browser from
guessing that an attachment is HTML. An attachment shown inline sets its own, stricter CSP
(and allows framing by our own page only, for PDFs), which this middleware leaves in place.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; object-src 'self'; "
            "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
#: For an attachment shown inline: it may run nothing and be framed by our pages only.
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; frame-ancestors 'self'"
#: A PDF opens in the browser's own viewer, which a ``default-src 'none'`` would break.
PDF_CSP = "script-src 'none'; frame-ancestors 'self'"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = PAGE_CSP
                    headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                if not static:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
