"""Who runs a console command, and under which name it acts: the OS user, mapped through
``staff.console_users`` (the rules: :mod:`bot.cli.console_identity`).

Apart from that module (which reads the staff table) so the quick console path
(:mod:`bot.cli.quick`) attributes its looks with this same code, without the ORM.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailformat import DsrbotError

if TYPE_CHECKING:
    from sqlmodel import Session

EXIT_NOT_MAPPED = 2


def operator_actor(name: str | None) -> str:
    """Attribute CLI changes to a named person: ``--as NAME`` or the login name."""
    return f"operator:{name or getpass.getuser()}"


class ConsoleRefusal(DsrbotError):
    """The console may not act as that name; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1, reason: str = "not_exact") -> None:
        super().__init__(message)
        self.code = self.exit_code = code
        self.reason = reason


@dataclass(frozen=True)
class ConsoleUser:
    os_user: str

    @classmethod
    def current(cls) -> ConsoleUser:
        return cls(getpass.getuser())

    def attribute(self, session: Session) -> None:
        """Every audit entry this session writes carries the OS user."""
        from storage import audit

        audit.attribute_session(session, os_user=self.os_user)

    def mapped_name(self, console_users: Mapping[str, str], given: str | None) -> str | None:
        """The name to act as under ``staff.console_users`` (``given`` when no map is set)."""
        if not console_users:
            return given
        mapped = console_users.get(self.os_user)
        if mapped is None:
            raise ConsoleRefusal(f"OS user {self.os_user!r} is not in staff.console_users; "
                                 "nothing was changed", EXIT_NOT_MAPPED, "console_user")
        if given is not None and given != mapped:
            raise ConsoleRefusal(f"--as {given!r} does not match staff.console_users for OS user "
                                 f"{self.os_user!r}; nothing was changed", EXIT_NOT_MAPPED,
                                 "console_user")
        return mapped
