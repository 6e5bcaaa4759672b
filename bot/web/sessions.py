"""Desk sessions: a signed, HttpOnly, SameSite=Strict cookie naming a server-side session row.

Why server-side rows behind a signed cookie: the signature (itsdangerous, keyed by
``web.secret_key``) rejects a forged or altered cookie before the database is asked; the row
makes logout, ``dsrbot staff disable`` and the idle timeout take effect at once on every
instance sharing the database. Only a SHA-256 of the random token is stored, so a database
dump holds no usable session. Each session has its own CSRF token, echoed in every form.

Before login there is no session, so the login form is protected by a double-submit token: a
signed cookie and a hidden field that must carry the same random value.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from storage import staff_logins
from storage.db import Database
from storage.staff_logins import WebSession

SESSION_COOKIE = "dsrbot_session"
LOGIN_COOKIE = "dsrbot_login"
#: A session's ``last_seen_at`` is written at most this often (not on every request).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Active:
    """A live session: who, and the CSRF token their forms must carry."""

    session_id: int
    name: str
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SessionStore:
    """Creates, finds and ends sessions; ``idle`` is the idle timeout."""

    def __init__(self, db: Database, secret: str, idle: timedelta) -> None:
        self.db = db
        self.idle = idle
        self._signer = URLSafeSerializer(secret, salt="dsrbot-desk-session")
        self._login_signer = URLSafeSerializer(secret, salt="dsrbot-desk-login")
        self._note_signer = URLSafeSerializer(secret, salt="dsrbot-desk-note")

    def create(self, name: str, now: datetime | None = None) -> str:
        """A new session for ``name``; returns the cookie value."""
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        with self.db.session() as session:
            session.add(WebSession(token_hash=_hash(token), staff_name=name,
                                   csrf_token=secrets.token_urlsafe(32),
                                   created_at=now, last_seen_at=now))
        return self._signer.dumps(token)

    def find(self, cookie: str | None, now: datetime | None = None) -> Active | None:
        """The live session behind a cookie; an idle one is ended and None returned."""
        if not cookie:
            return None
        try:
            token = str(self._signer.loads(cookie))
        except BadSignature:
            return None
        now = now or datetime.now(UTC)
        with self.db.read_session() as session:
            row = staff_logins.session_by_token_hash(session, _hash(token))
        if row is None or row.id is None:
            return None
        seen = _aware(row.last_seen_at)
        if now - seen > self.idle:
            self.end(row.id)
            return None
        if now - seen > TOUCH_EVERY:  # a write at most once a minute, not on every request
            with self.db.session() as session:
                staff_logins.touch_session(session, row.id, now)
        return Active(row.id, row.staff_name, row.csrf_token)

    def end(self, session_id: int) -> None:
        with self.db.session() as session:
            staff_logins.end_session(session, session_id)

    # --- the login form's double-submit token, and signed notes shown after an action -----

    def login_token(self) -> tuple[str, str]:
        """(form value, cookie value) for a fresh login form."""
        token = secrets.token_urlsafe(24)
        return token, self._login_signer.dumps(token)

    def login_token_ok(self, form_value: str, cookie: str | None) -> bool:
        if not form_value or not cookie:
            return False
        try:
            expected = str(self._login_signer.loads(cookie))
        except BadSignature:
            return False
        return secrets.compare_digest(expected, form_value)

    def sign_note(self, text: str) -> str:
        return self._note_signer.dumps(text)

    def read_note(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return str(self._note_signer.loads(value))
        except BadSignature:
            return None


def csrf_ok(active: Active, submitted: object) -> bool:
    return isinstance(submitted, str) and bool(submitted) and \
        secrets.compare_digest(active.csrf_token, submitted)
