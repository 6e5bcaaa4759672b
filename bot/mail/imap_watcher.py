"""IMAP watcher: stays connected to one mailbox and runs a sync whenever something may be new.

Why it works this way:

* **What a sync does** (store with the UID advancing in the same transaction, UIDVALIDITY,
  moving out only what became a case, deleting our canary probes) is
  :mod:`bot.mail.imap_mailbox`; a crash, a dropped connection or a server restart at any point
  means the next connection starts from the last committed UID.
* **IDLE** when the server has it (polling every ``poll_seconds`` otherwise). imapclient is
  synchronous, so the watcher lives in its own thread and the event loop never waits on it.
  Moves happen on the next sync after the pipeline decided; the pipeline may call
  :meth:`ImapWatcher.wake` after a batch to make that immediate.
* **Reconnect** with exponential backoff (1 s doubling to 60 s), reset after a good sync.
* **OAuth2** (``mail.imap.auth = "oauth2"``): XOAUTH2 with a cached token. A session ends
  cleanly when its token expires (between syncs, so nothing is half done) and the next one
  logs in with a fresh token; a refused login drops the cached token. After
  ``alert_after_failures`` failed logins in a row staff are told once in the chat.
* **One watcher** per mailbox: on PostgreSQL a session advisory lock
  (:mod:`bot.mail.imap_lock`) keeps other instances on standby (SQLite means one machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from bot.mail.imap_lock import WatchLock
from bot.mail.imap_mailbox import PROCESSED_KEYWORD, MailboxSync
from bot.mail.oauth import TokenError, TokenProvider
from bot.settings import Settings
from storage import chat_outbox
from storage.db import Database

log = logging.getLogger(__name__)

__all__ = ["PROCESSED_KEYWORD", "ImapWatcher"]


class _TokenExpired(Exception):
    """The session's OAuth2 token has expired: end the session and log in with a fresh one."""


class ImapWatcher:
    """A service component: ``start`` launches the watcher thread, ``stop`` ends it."""

    name = "imap-watcher"

    def __init__(
        self,
        settings: Settings,
        db: Database,
        on_stored: Callable[[], None] | None = None,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        idle_refresh_seconds: float = 600.0,
        connect_timeout: float = 30.0,
    ) -> None:
        cfg = settings.mail.imap
        self._tokens: TokenProvider | None = None
        password: str | None = None
        if cfg.auth == "oauth2":
            from bot.mail.oauth.sources import token_provider

            self._tokens = token_provider(settings, cfg.oauth2, cfg.username)
        else:
            password = settings.secret(cfg.password, cfg.password_file)
        if not cfg.username or (password is None and self._tokens is None):
            raise ValueError(
                "mail.imap: username and a password (DSRBOT_MAIL__IMAP__PASSWORD or "
                "mail.imap.password_file) are required when IMAP is enabled"
            )
        self._alert_after = cfg.alert_after_failures
        self._failures = 0
        self._alerted = False
        self._token_expires: float | None = None
        self._db = db
        self._host, self._port, self._ssl = cfg.host, cfg.port, cfg.ssl
        self._username, self._password = cfg.username, password
        self._mailbox = cfg.mailbox
        self._poll = cfg.poll_seconds
        self._account = f"{cfg.username}@{cfg.host}:{cfg.port}"
        self._sync_pass = MailboxSync(db, account=self._account, mailbox=cfg.mailbox,
                                 processed_folder=cfg.processed_folder,
                                 start_from=cfg.start_from)
        self._lock = WatchLock(db, self._account, cfg.mailbox)
        self._on_stored = on_stored
        self._notify: Callable[[], None] = on_stored or (lambda: None)
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._delay = backoff_initial
        self._idle_refresh = idle_refresh_seconds
        self._timeout = connect_timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        #: Successful syncs so far (tests and health checks wait on it).
        self.syncs = 0
        self.connected = threading.Event()

    # -- component ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._on_stored is not None:
            loop = asyncio.get_running_loop()
            callback = self._on_stored

            def notify() -> None:
                loop.call_soon_threadsafe(callback)

            self._notify = notify
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="imap-watcher", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, self._timeout + 5)
            self._thread = None

    def wake(self) -> None:
        """Thread-safe: sync now (new mail, and moves of messages that just became cases)."""
        self._wake.set()

    # -- the thread --------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Connect, watch, and on any failure wait (backoff) and reconnect, until stopped."""
        while not self._stop.is_set():
            client: IMAPClient | None = None
            try:
                if self._lock.hold():
                    client = self._connect()
                    self._watch(client)
                else:
                    self._stop.wait(self._poll)
                    continue
            except _TokenExpired:
                log.info("imap watcher: access token expired; logging in again")
                self.connected.clear()
                self._close(client)
                continue
            except (LoginError, TokenError) as exc:
                self._login_failed(exc)
            except Exception as exc:
                log.warning("imap watcher: %s; reconnecting in %.1fs",
                            exc.__class__.__name__, self._delay)
            finally:
                self.connected.clear()
                self._close(client)
            if self._stop.is_set():
                break
            self._stop.wait(self._delay)
            self._delay = min(self._delay * 2, self._backoff_max)
        self._lock.release()

    def _connect(self) -> IMAPClient:
        client = IMAPClient(self._host, port=self._port, ssl=self._ssl, timeout=self._timeout)
        client.normalise_times = False  # timezone-aware INTERNALDATE
        try:
            if self._tokens is None:
                client.login(self._username, self._password)
            else:
                token = self._tokens.token()
                try:
                    client.oauth2_login(self._username, token.value)
                except LoginError:
                    self._tokens.invalidate()  # revoked or expired early: fetch anew next time
                    raise
                self._token_expires = token.expires_at
        except BaseException:
            self._close(client)
            raise
        self._failures, self._alerted = 0, False
        self._sync_pass.new_connection()
        return client

    def _login_failed(self, exc: Exception) -> None:
        """Log one clear line (never the token), back off, alert staff once after N in a row."""
        self._failures += 1
        what = "token" if isinstance(exc, TokenError) else "login refused"
        detail = str(exc) if isinstance(exc, TokenError) else "the server refused the login"
        log.warning("imap watcher: %s for %s (%s); attempt %d, retrying in %.1fs", what,
                    self._account, detail, self._failures, self._delay)
        if self._failures >= self._alert_after and not self._alerted:
            self._alerted = True
            try:
                with self._db.session() as session:
                    chat_outbox.notify_staff(
                        session, f"IMAP login to {self._account} has failed "
                        f"{self._failures} times in a row ({detail}). New mail is not read "
                        "until this is fixed; `dsrbot doctor` checks the login.")
            except Exception:
                log.exception("imap watcher: could not queue the staff alert")

    @staticmethod
    def _close(client: IMAPClient | None) -> None:
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _watch(self, client: IMAPClient) -> None:
        info = client.select_folder(self._mailbox)
        uidvalidity = int(info[b"UIDVALIDITY"])
        self._sync_pass.uidnext = int(info.get(b"UIDNEXT", 1))
        self._sync_pass.keyword_ok = b"\\*" in info.get(b"PERMANENTFLAGS", ())
        can_idle = client.has_capability("IDLE")
        self.connected.set()
        self.sync(client, uidvalidity)
        while not self._stop.is_set():
            if can_idle:
                self._idle(client)
            else:
                self._wake.wait(self._poll)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.sync(client, uidvalidity)
            if self._token_expires is not None and time.time() >= self._token_expires:
                raise _TokenExpired

    def _idle(self, client: IMAPClient) -> None:
        """IDLE until the server reports something, a wake-up, the poll interval, or stop."""
        client.idle()
        try:
            left = (self._token_expires or float("inf")) - time.time()  # end IDLE at expiry
            deadline = time.monotonic() + max(min(self._poll, self._idle_refresh, left), 0)
            while not self._stop.is_set() and not self._wake.is_set():
                if client.idle_check(timeout=0.25):
                    return
                if time.monotonic() >= deadline:
                    return
        finally:
            client.idle_done()

    # -- one sync --------------------------------------------------------------------------

    def sync(self, client: IMAPClient, uidvalidity: int) -> int:
        """Store every message above the last stored UID; return how many rows were new."""
        new_rows = self._sync_pass.sync(client, uidvalidity, self._notify)
        self.syncs += 1
        self._delay = self._backoff_initial
        return new_rows
