"""Who may log in to the desk, and how a login is checked (Argon2id, lockout, optional TOTP).

Why like this: the notice promises "each with a personal username and password". A person is
staff by the same rule the chat and the console use (the ``Staff`` table first, then
``[[chat.staff]]`` in the settings; an inactive row revokes). Passwords are stored only as
Argon2id hashes (argon2-cffi's default type). Five failed attempts in a row lock the login for
15 minutes; every failure and every lock is audited (an unknown name as ``web:unknown``, never
the typed text, which may be someone's address or even a password). A wrong password costs
the same hashing work as a right one, so timing does not tell names apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session

from bot.settings import StaffMember as ConfiguredStaff
from storage import audit, staff_logins
from storage import cases as store
from storage.staff_logins import StaffLogin

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD_CHARS = 12
UNKNOWN_ACTOR = "web:unknown"

_HASHER = PasswordHasher()
#: Verified against when the name is unknown, so an unknown name takes as long as a known one.
_DUMMY_HASH = _HASHER.hash("dsrbot-no-such-user-placeholder")


@dataclass(frozen=True)
class Member:
    """A staff member as the desk knows them (role and whether they are active)."""

    name: str
    role: str
    active: bool

    @property
    def actor(self) -> str:
        return audit.staff_actor(self.name)


@dataclass(frozen=True)
class LoginResult:
    member: Member | None
    #: None on success; else "bad" (name or password or code), "locked" or "inactive".
    failure: str | None
    locked_until: datetime | None = None


class PasswordPolicyError(ValueError):
    """A new password that is too weak; the message says what is wrong."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


def find_member(
    session: Session, name: str, configured: Sequence[ConfiguredStaff]
) -> Member | None:
    """The staff member called ``name`` (table first, then config), or None."""
    row = store.staff_by_name(session, name) if name else None
    if row is not None:
        return Member(row.name, row.role, row.active)
    match = next((s for s in configured if s.name == name), None) if name else None
    return Member(match.name, match.role, True) if match else None


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _password_ok(login: StaffLogin | None, password: str) -> bool:
    try:
        if login is None or not login.password_hash:
            _HASHER.verify(_DUMMY_HASH, password + "x")
            return False
        return _HASHER.verify(login.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _otp_ok(login: StaffLogin, code: str, now: datetime) -> bool:
    """A current TOTP code, not one already used (replay within its 30-second window)."""
    if not login.totp_secret:
        return True
    totp = pyotp.TOTP(login.totp_secret)
    digits = "".join(ch for ch in code if ch.isdigit())
    for offset in (0, -1, 1):
        step = int(now.timestamp()) // totp.interval + offset
        if (login.totp_last_step is None or step > login.totp_last_step) and \
                pyotp.utils.strings_equal(totp.at(step * totp.interval), digits):
            login.totp_last_step = step
            return True
    return False


def check_login(
    session: Session, name: str, password: str, otp: str, configured: Sequence[ConfiguredStaff],
    *, now: datetime | None = None,
) -> LoginResult:
    """Check a login attempt; count, lock and audit failures in ``session`` (commit it)."""
    now = now or datetime.now(UTC)
    name = name.strip()[:100]
    member = find_member(session, name, configured)
    login = staff_logins.login_for(session, name) if member else None
    locked_until = _aware(login.locked_until) if login else None
    if login is not None and locked_until is not None and locked_until > now:
        _password_ok(None, password)  # same cost as any attempt
        audit.record(session, audit.staff_actor(name), "web.login_failed",
                     details={"reason": "locked", "until": locked_until.isoformat()}, at=now)
        return LoginResult(member, "locked", locked_until)
    good = _password_ok(login, password) and login is not None and _otp_ok(login, otp, now)
    if member is None or login is None:
        audit.record(session, UNKNOWN_ACTOR, "web.login_failed",
                     details={"reason": "unknown_or_no_password"}, at=now)
        return LoginResult(None, "bad")
    if not good:
        return _count_failure(session, login, now)
    if not member.active:
        audit.record(session, member.actor, "web.login_failed",
                     details={"reason": "inactive"}, at=now)
        return LoginResult(member, "inactive")
    login.failed_attempts = 0
    login.locked_until = None
    login.last_login_at = now
    session.add(login)
    audit.record(session, member.actor, "web.login", details={
        "second_factor": bool(login.totp_secret)}, at=now)
    return LoginResult(member, None)


def _count_failure(session: Session, login: StaffLogin, now: datetime) -> LoginResult:
    login.failed_attempts += 1
    actor = audit.staff_actor(login.name)
    audit.record(session, actor, "web.login_failed",
                 details={"reason": "bad_credentials", "failures": login.failed_attempts}, at=now)
    until = None
    if login.failed_attempts >= MAX_FAILURES:
        until = now + timedelta(minutes=LOCK_MINUTES)
        login.locked_until = until
        login.failed_attempts = 0
        audit.record(session, actor, "web.login_locked",
                     details={"until": until.isoformat(), "failures": MAX_FAILURES}, at=now)
    session.add(login)
    return LoginResult(None, "locked" if until else "bad", until)
