"""The one root error: ``DsrbotError``.

It lives in the leaf package because the lowest layer that raises on purpose (a header value
that cannot be sent) is here, and every layer above derives its errors from it: storage (a
status change the rules forbid, a bad register row), handlers (a case, a right, a letter, a
field, a mail that is not one), bot (a setting). So a caller knows from the type alone that the
message is meant for a person: it says what happened and what to do, and holds no personal
data. The CLI turns it into one line and :attr:`DsrbotError.exit_code`, in one place
(``bot.cli``); anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class DsrbotError(Exception):
    """An error dsrbot raises on purpose; its message may be shown as it is."""

    #: What ``dsrbot`` exits with when this error ends a command.
    exit_code: int = 1
    #: Said before the message on the console (e.g. "config error"), if anything.
    label: str = ""

    def one_line(self) -> str:
        text = " ".join(str(self).split()) or self.__class__.__name__
        return f"{self.label}: {text}" if self.label else text
