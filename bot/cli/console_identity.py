"""Who is at the console: ``--as NAME`` is checked, not trusted.

The console has no login of its own, so ``--as`` is the only attribution a decision carries.
Three rules keep it honest:

* the name must be an active staff member's name *exactly* as stored: no trimming, no case
  folding, no extra invisible or space characters (Unicode Cf, Cc, Zs), so ``" anna"`` or
  ``"anna\\u200b"`` is refused instead of quietly becoming anna;
* the OS user running the command (``getpass.getuser()``) is written beside it in every audit
  entry the command makes (``details.os_user``), so a name typed by someone else still shows
  who typed it;
* with ``staff.console_users`` set (OS user -> staff name), ``--as`` must be the name mapped to
  the OS user, and an OS user not in the map may not act at all (exit 2).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from sqlmodel import Session, select

from bot.cli.console_user import EXIT_NOT_MAPPED as EXIT_NOT_MAPPED
from bot.cli.console_user import ConsoleRefusal as ConsoleRefusal
from bot.cli.console_user import ConsoleUser as ConsoleUser
from bot.settings import StaffMember
from storage import audit
from storage.models import Staff

#: Characters a reader cannot see or count: format, control and space separators.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs"})


def staff_names(session: Session, configured: Sequence[StaffMember]) -> dict[str, bool]:
    """Every staff name -> active. The Staff table decides over ``chat.staff``."""
    names = {s.name: True for s in configured}
    names.update({row.name: row.active for row in session.exec(select(Staff)).all()})
    return names


def _invisible(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text
            if unicodedata.category(c) in INVISIBLE_CATEGORIES]


def _loose(text: str) -> str:
    kept = "".join(c for c in text if unicodedata.category(c) not in INVISIBLE_CATEGORIES)
    return unicodedata.normalize("NFKC", kept).casefold()


def check_exact(name: str, names: Mapping[str, bool]) -> bool:
    """True when ``name`` is exactly a staff name (active or not: the caller decides that).

    False for a name that is nobody's at all (the caller refuses it as unknown). Raises
    :class:`ConsoleRefusal` for a name that is *almost* a staff member's (spaces, case,
    invisible characters, another Unicode form): that is a mistake or a disguise.
    """
    if name in names:
        return True
    invisible = sorted(set(_invisible(name)) - {u for n in names for u in _invisible(n)})
    near = [n for n in names if _loose(n) == _loose(name)]
    if near or invisible:
        what = f" (it has {', '.join(invisible)})" if invisible else ""
        raise ConsoleRefusal(f"--as {name!r} is not exactly the name of a staff member{what}; "
                             "give the name as it is stored; nothing was changed")
    return False


def refuse_and_audit(session: Session, name: str, refusal: ConsoleRefusal, *, action: str,
                     case_id: str | None = None) -> None:
    """The attempt shows in the audit trail (the name escaped, as it was typed)."""
    shown = name.encode("unicode_escape").decode("ascii")[:100]
    audit.record(session, audit.staff_actor(shown), "case.denied", case_id=case_id,
                 details={"attempted": action, "reason": refusal.reason})
