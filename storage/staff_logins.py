"""Web desk logins: a personal password (and optional second factor) per named staff member.

Why a table apart from ``Staff``: ``Staff`` says who someone is and what their role allows (the
chat and the console read it); this says how they prove it on the web. A name configured only in
``[[chat.staff]]`` can have a login too, so the row keys on the staff *name*, not on a Staff id.
Only Argon2id hashes are stored, never a password; the TOTP secret is the one secret kept here
(it must be readable to check codes). Sessions live server-side, so logging out or disabling a
person ends their sessions at once, and the idle timeout does not trust the browser's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, String, delete, update
from sqlmodel import Field, Session, col, select

from storage.models.base import TableModel


class StaffLogin(TableModel, table=True):
    """How one staff member logs in to the web desk."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), unique=True, nullable=False))
    #: Argon2id hash in PHC format (``$argon2id$v=19$...``); empty until ``staff passwd``.
    password_hash: str = Field(default="", max_length=200)
    #: Base32 TOTP secret once enrolled (``staff totp``); None means password only.
    totp_secret: str | None = Field(default=None, max_length=64)
    #: Failures since the last success; five lock the login (see bot.web.auth).
    failed_attempts: int = 0
    locked_until: datetime | None = None
    #: The TOTP time step last accepted, so one code cannot be replayed within its window.
    totp_last_step: int | None = None
    password_changed_at: datetime | None = None
    last_login_at: datetime | None = None


class WebSession(TableModel, table=True):
    """A logged-in browser. The cookie carries a signed random id; only its hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    staff_name: str = Field(max_length=100, index=True)
    #: Per-session CSRF token, echoed in every form (compared in constant time).
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    last_seen_at: datetime


def login_for(session: Session, name: str) -> StaffLogin | None:
    return session.exec(select(StaffLogin).where(col(StaffLogin.name) == name)).first()


def ensure_login(session: Session, name: str) -> StaffLogin:
    row = login_for(session, name)
    if row is None:
        row = StaffLogin(name=name)
        session.add(row)
        session.flush()
    return row


def session_by_token_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.exec(select(WebSession).where(col(WebSession.token_hash) == token_hash)).first()


def touch_session(session: Session, session_id: int, at: datetime) -> None:
    session.execute(update(WebSession).where(col(WebSession.id) == session_id)
                    .values(last_seen_at=at))


def end_session(session: Session, session_id: int) -> None:
    session.execute(delete(WebSession).where(col(WebSession.id) == session_id))


def end_sessions_of(session: Session, name: str) -> int:
    result = session.execute(delete(WebSession).where(col(WebSession.staff_name) == name))
    return int(getattr(result, "rowcount", 0) or 0)


def end_idle_sessions(session: Session, idle_before: datetime) -> int:
    result = session.execute(delete(WebSession).where(col(WebSession.last_seen_at) < idle_before))
    return int(getattr(result, "rowcount", 0) or 0)


def logins(session: Session) -> Sequence[StaffLogin]:
    return session.exec(select(StaffLogin).order_by(col(StaffLogin.name))).all()
