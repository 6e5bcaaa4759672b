"""Every look at personal data from the console is in the audit trail, like the desk's.

The desk audits each case page and queue an approver sees (``case.viewed``,
``web.queue_viewed``); the console showed the same data (``dsrbot case``, ``dsrbot cases``,
the register and list exports) and left no trace. A look is recorded *before* anything is
printed, in a short transaction of its own: if the trail cannot be written, nothing is shown.

Who looked: the console has no login, so the actor is ``operator:NAME`` where NAME is the staff
member ``staff.console_users`` maps the OS user to, else the OS login; the OS user is in the
entry's details either way. With ``staff.console_users`` set, an OS user outside the map may
not look (exit 2), as it may not act.
"""

from __future__ import annotations

from typing import Any

from bot.cli.console_identity import ConsoleUser
from bot.cli.context import CliContext, operator_actor
from storage import audit


def record_look(obj: CliContext, action: str, *, case_id: str | None = None,
                customer_number: str | None = None, **details: Any) -> None:
    """Audit one console look (raises ``ConsoleRefusal`` for an OS user the map leaves out)."""
    user = ConsoleUser.current()
    name = user.mapped_name(obj.settings.staff.console_users, None)
    with obj.db.session() as session:
        user.attribute(session)
        audit.record(session, operator_actor(name), action, case_id=case_id,
                     customer_number=customer_number,
                     details={"channel": "console", "personal_data": True, **details})
