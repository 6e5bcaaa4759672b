"""``/healthz`` and ``/metrics`` on a loopback port: a tiny asyncio HTTP server, no framework.

Why so small: a monitor needs two GET routes; a dependency-free server inside our own loop
starts in milliseconds and cannot clash with the staff web desk (``bot/web/``), which may serve
its own app beside it. It binds to 127.0.0.1 only (``health.metrics_port``; 0 = off): expose
it through a reverse proxy or a Prometheus agent on the same host if needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST

from bot.health import metrics, report
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable",
            500: "Internal Server Error"}


class HealthServer:
    name = "health-http"

    def __init__(self, settings: Settings, db: Database, port: int | None = None) -> None:
        self._settings, self._db = settings, db
        self.port = settings.health.metrics_port if port is None else port
        self._registry = metrics.build_registry(settings, db)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health endpoints on http://%s:%s/healthz and /metrics", HOST, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)
            self._server = None

    def _healthz(self) -> tuple[int, bytes]:
        with self._db.read_session() as session:
            verdict = report.problems(self._settings, session, datetime.now(UTC))
        body = {"status": "ok" if verdict.healthy else "degraded", "problems": verdict.problems}
        return (200 if verdict.healthy else 503), json.dumps(body).encode()

    async def _respond(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            code, body = await asyncio.to_thread(self._healthz)
            return code, "application/json", body
        if path == "/metrics":
            body = await asyncio.to_thread(metrics.render, self._registry)
            return 200, CONTENT_TYPE_LATEST, body
        return 404, "text/plain", b"not found\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = (await reader.readline()).decode("latin-1").split()
                while (await reader.readline()).strip():
                    pass  # headers: nothing we need
            if len(request) < 2 or request[0] not in ("GET", "HEAD"):
                code, ctype, body = 405, "text/plain", b"GET only\n"
            else:
                try:
                    code, ctype, body = await self._respond(request[1].split("?", 1)[0])
                except Exception as exc:  # the database may be away: say so, stay up
                    log.error("health endpoint failed (%s)", exc.__class__.__name__)
                    code, ctype, body = 500, "text/plain", b"cannot read the database\n"
            head = (f"HTTP/1.1 {code} {_REASONS.get(code, '')}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + (b"" if request[:1] == ["HEAD"] else body))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
