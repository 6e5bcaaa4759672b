"""The desk as a service component: uvicorn serving the app inside the service's event loop.

Why bind the socket here: a port already in use becomes one clear error at start-up (uvicorn
would otherwise ``sys.exit`` from inside the loop), and ``port = 0`` picks a free port (tests).
Why a ``capture_signals`` that does nothing: the service owns SIGTERM/SIGINT and stops every
component in order; uvicorn must not install its own handlers over ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator

import uvicorn

from bot.settings import ConfigError, Settings
from bot.web.app import build_app
from storage.db import Database

log = logging.getLogger(__name__)


class WebDeskError(ConfigError):
    """The desk cannot start (its address is taken or not ours): a ``web.*`` setting to fix."""


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise WebDeskError(f"web.port: cannot listen on {host}:{port} ({exc.strerror})") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class WebDesk:
    name = "web"

    def __init__(self, settings: Settings, db: Database,
                 on_change: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.app = build_app(settings, db, on_change=on_change)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def start(self) -> None:
        web = self.settings.web
        sock = bind(web.host, web.port)
        self.port = int(sock.getsockname()[1])
        # No access log: URLs name cases, and the audit trail already says who looked at what.
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off",
                                server_header=False, proxy_headers=False,
                                timeout_graceful_shutdown=3)
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise WebDeskError("web: the server stopped while starting")
            await asyncio.sleep(0.01)
        log.info("web desk listening host=%s port=%s", web.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task
