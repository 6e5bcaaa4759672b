"""IMAP watcher: stores every new message of one mailbox, moves out only what became a case.

Why it works this way:

* **Nothing lost.** A message is fetched with ``BODY.PEEK[]``, stored and committed, and the
  stored UID (``ImapState.last_uid``) advances in that same transaction. A crash, a dropped
  connection or a server restart at any point means the next connection starts from the last
  committed UID; anything fetched twice is one row (dedupe on Message-ID + hash).
* **UIDVALIDITY.** UIDs only mean something within one UIDVALIDITY. When the server reports a
  new one, the watcher starts again from UID 0 and relies on the dedupe.
* **Mailbox stays a mailbox.** info@ is also the ordinary customer-service mailbox. ``PEEK``
  leaves ``\\Seen`` alone, and only messages the pipeline turned into (part of) a case (state
  ``processed`` with a ``case_id``) are moved to ``mail.imap.processed_folder`` (or given the
  ``$DsrProcessed`` keyword when the folder is ""). Everything else stays in INBOX, unread,
  where people read it. Moves happen on the next sync after the pipeline decided; the pipeline
  may call :meth:`ImapWatcher.wake` after a batch to make that immediate.
* **IDLE** when the server has it (polling every ``poll_seconds`` otherwise). imapclient is
  synchronous, so the watcher lives in its own thread and the event loop never waits on it.
* **Reconnect** with exponential backoff (1 s doubling to 60 s), reset after a good sync.
* **OAuth2** (``mail.imap.auth = "oauth2"``): XOAUTH2 with a cached token. A session ends
  cleanly when its token expires (between syncs, so nothing is half done) and the next one
  logs in with a fresh token; a refused login drops the cached token. After
  ``alert_after_failures`` failed logins in a row staff are told once in the chat.
* **One watcher** per mailbox: on PostgreSQL a session advisory lock keeps other instances on
  standby (SQLite means one machine anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sqlalchemy import Connection, text

from bot.mail.oauth import TokenError, TokenProvider
from bot.settings import Settings
from storage import chat_outbox, inbox
from storage.db import Database

log = logging.getLogger(__name__)

PROCESSED_KEYWORD = "$DsrProcessed"
_FETCH_CHUNK = 20
_ADVISORY_NAMESPACE = 0x696D6170  # "imap"


class _TokenExpired(Exception):
    """The session's OAuth2 token has expired: end the session and log in with a fresh one."""


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


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
        self._start_from = cfg.start_from
        self._uidnext = 1
        self._folder = cfg.processed_folder.strip()
        self._poll = cfg.poll_seconds
        self._account = f"{cfg.username}@{cfg.host}:{cfg.port}"
        self._on_stored = on_stored
        self._notify: Callable[[], None] = on_stored or (lambda: None)
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._delay = backoff_initial
        self._idle_refresh = idle_refresh_seconds
        self._timeout = connect_timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_conn: Connection | None = None
        self._target: str | None = None
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
                if self._hold_watch_lock():
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
        self._release_watch_lock()

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
        self._target = None
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
        self._uidnext = int(info.get(b"UIDNEXT", 1))
        permanent = info.get(b"PERMANENTFLAGS", ())
        self._keyword_ok = b"\\*" in permanent
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

    # -- one sync: store new mail, then move what became cases -------------------------------

    def sync(self, client: IMAPClient, uidvalidity: int) -> int:
        """Store every message above the last stored UID; return how many rows were new."""
        client.noop()
        last_uid = self._last_uid(uidvalidity)
        found = client.search(["UID", f"{last_uid + 1}:*"])
        uids = sorted(int(u) for u in found if int(u) > last_uid)
        new_rows = 0
        for chunk in _chunks(uids, _FETCH_CHUNK):
            fetched = client.fetch(list(chunk), [b"BODY.PEEK[]", b"INTERNALDATE"])
            for uid in chunk:
                item = fetched.get(uid)
                if self._store(uid, uidvalidity, item):
                    new_rows += 1
                    self._notify()
        self._move_processed(client, uidvalidity)
        self._delete_probes(client, uidvalidity)
        self.syncs += 1
        self._delay = self._backoff_initial
        return new_rows

    def _last_uid(self, uidvalidity: int) -> int:
        with self._db.session() as session:
            state = inbox.imap_state(session, self._account, self._mailbox)
            if state.uidvalidity != uidvalidity:
                start = 0
                if state.uidvalidity:
                    log.warning("imap watcher: UIDVALIDITY changed; reading the mailbox again "
                                "(already stored messages are recognised)")
                elif self._start_from == "now":
                    # First start on a mailbox people already use: its old mail is theirs;
                    # answering years of it would be wrong (a backlog is `dsrbot ingest`).
                    start = max(self._uidnext - 1, 0)
                    log.info("imap watcher: first start; mail already in the mailbox is left "
                             "alone (mail.imap.start_from = \"now\")")
                inbox.advance_imap_state(session, state, uidvalidity, start)
            return state.last_uid

    def _store(self, uid: int, uidvalidity: int, item: dict[bytes, Any] | None) -> bool:
        """Store one message and advance the UID in the same transaction; True if it was new."""
        raw = item.get(b"BODY[]") if item else None
        with self._db.session() as session:
            new = False
            if isinstance(raw, bytes):
                row, new = inbox.store_inbound(
                    session, raw, channel="imap", envelope_from="", envelope_to=[],
                    received_at=_as_utc(item.get(b"INTERNALDATE") if item else None),
                    imap=inbox.ImapLocation(self._mailbox, uidvalidity, uid),
                )
                log.info("inbound stored id=%s channel=imap new=%s", row.id, new)
            # else: expunged between SEARCH and FETCH; nothing to store, move past it.
            state = inbox.imap_state(session, self._account, self._mailbox)
            inbox.advance_imap_state(session, state, uidvalidity, max(state.last_uid, uid))
        return new

    def _move_processed(self, client: IMAPClient, uidvalidity: int) -> None:
        with self._db.read_session() as session:
            rows = inbox.imap_rows_to_move(session, self._mailbox, uidvalidity)
        if not rows:
            return
        uids = [uid for _, uid in rows]
        if self._folder:
            target = self._target_folder(client)
            if client.has_capability("MOVE"):
                client.move(uids, target)
            else:
                client.copy(uids, target)
                client.add_flags(uids, [b"\\Deleted"])
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
        else:
            keyword = PROCESSED_KEYWORD if self._keyword_ok else "\\Flagged"
            client.add_flags(uids, [keyword.encode()])
        with self._db.session() as session:
            inbox.mark_imap_moved(session, [row_id for row_id, _ in rows])
        log.info("imap watcher: %d request(s) moved out of the mailbox", len(rows))

    def _delete_probes(self, client: IMAPClient, uidvalidity: int) -> None:
        """Our canary probes leave the mailbox for good: flagged deleted and expunged."""
        with self._db.read_session() as session:
            rows = inbox.imap_probes_to_delete(session, self._mailbox, uidvalidity)
        if not rows:
            return
        uids = [uid for _, uid in rows]
        client.add_flags(uids, [b"\\Deleted"])
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()
        with self._db.session() as session:
            inbox.mark_imap_moved(session, [row_id for row_id, _ in rows])
        log.info("imap watcher: %d canary probe(s) removed from the mailbox", len(rows))

    def _target_folder(self, client: IMAPClient) -> str:
        """The processed folder in the server's own hierarchy syntax; created when missing."""
        if self._target is not None:
            return self._target
        name = self._folder
        prefix, delimiter = "", "/"
        if client.has_capability("NAMESPACE"):
            personal = client.namespace().personal
            if personal:
                prefix, delimiter = personal[0][0] or "", personal[0][1] or "/"
        if delimiter != "/":
            name = name.replace("/", delimiter)
        if prefix and not name.startswith(prefix):
            name = prefix + name
        if not client.folder_exists(name):
            try:
                client.create_folder(name)
            except Exception:
                if not client.folder_exists(name):  # lost a race with another client: fine
                    raise
        self._target = name
        return name

    # -- one watcher per mailbox (PostgreSQL) -------------------------------------------------

    def _hold_watch_lock(self) -> bool:
        if self._db.engine.dialect.name != "postgresql":
            return True
        if self._lock_conn is not None:
            return True
        key = zlib.crc32(f"{self._account}|{self._mailbox}".encode())
        key = key - 2**32 if key >= 2**31 else key
        conn = self._db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"),
                           {"a": _ADVISORY_NAMESPACE, "b": key}).scalar()
        conn.commit()
        if got:
            self._lock_conn = conn
            return True
        conn.close()
        log.info("imap watcher: another instance watches this mailbox; standing by")
        return False

    def _release_watch_lock(self) -> None:
        if self._lock_conn is not None:
            # Invalidate (really close) the connection: that is what releases a session lock.
            with contextlib.suppress(Exception):
                self._lock_conn.invalidate()
                self._lock_conn.close()
            self._lock_conn = None
