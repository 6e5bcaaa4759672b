"""Who may do what in the staff chat: the allowlist of Telegram user ids and their roles.

Why here and why like this: Telegram tells us a numeric user id, never a staff name, so this
module maps ids to named staff members (the ``Staff`` table first, then ``chat.staff`` from the
settings, the same precedence the case engine uses for names) and asks the case engine's
:func:`handlers.cases.staff_denial` whether that role may take the action. An inactive row in
the table revokes a configured member: switching someone off must not need a config deploy.

Every refusal is audited in the caller's transaction. A stranger is recorded by Telegram user
id only (``telegram:<id>``): we never store the display name Telegram sends along.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.settings import StaffMember as ConfiguredStaff
from handlers.cases import staff_denial
from storage import audit
from storage.models import Staff

#: What each denial tells the person, politely and without saying anything about any case.
REFUSALS: dict[str, str] = {
    "unknown": "Sorry, you are not on dsrbot's staff list, so I cannot do that for you. "
               "The attempt has been logged.",
    "inactive": "Sorry, your staff access is switched off. The attempt has been logged.",
    "not_approver": "Sorry, your role lets you look at cases but not decide them; "
                    "please ask an approver. The attempt has been logged.",
    "wrong_chat": "Sorry, I only work in the staff chat or in a private chat with staff. "
                  "The attempt has been logged.",
}


@dataclass(frozen=True)
class Member:
    """A staff member as the chat knows them."""

    name: str
    role: str
    active: bool
    telegram_user_id: int

    @property
    def actor(self) -> str:
        return audit.staff_actor(self.name)


@dataclass(frozen=True)
class Gate:
    """The answer to "may this Telegram user do this here?"."""

    member: Member | None
    denial: str | None

    @property
    def allowed(self) -> bool:
        return self.denial is None and self.member is not None

    @property
    def message(self) -> str:
        return REFUSALS.get(self.denial or "", "")


def find_member(
    session: Session, telegram_user_id: int, configured: Sequence[ConfiguredStaff]
) -> Member | None:
    """The staff member behind a Telegram user id, or None for a stranger."""
    row = session.exec(
        select(Staff).where(col(Staff.telegram_user_id) == telegram_user_id)
    ).first()
    if row is not None:
        return Member(row.name, row.role, row.active, telegram_user_id)
    for entry in configured:
        if entry.telegram_user_id == telegram_user_id:
            # A table row with the same name but another (or no) Telegram id wins over config.
            named = session.exec(select(Staff).where(col(Staff.name) == entry.name)).first()
            if named is not None:
                return Member(named.name, named.role, named.active and
                              named.telegram_user_id in (None, telegram_user_id),
                              telegram_user_id)
            return Member(entry.name, entry.role, True, telegram_user_id)
    return None


def check(
    session: Session,
    telegram_user_id: int,
    configured: Sequence[ConfiguredStaff],
    *,
    action: str,
    chat_allowed: bool = True,
    case_id: str | None = None,
) -> Gate:
    """May this user take ``action``? A refusal is audited in ``session`` (commit it).

    ``action`` uses the case engine's names (``approve``, ``refuse``, ``extend``, ``assign``,
    ``request_information``, ``intake``, ...; ``view`` for looking).
    """
    member = find_member(session, telegram_user_id, configured)
    if not chat_allowed:
        denial: str | None = "wrong_chat"
    else:
        denial = staff_denial(member.role if member else None,
                              member.active if member else False, action)
    if denial is None:
        return Gate(member, None)
    actor = member.actor if member else f"telegram:{telegram_user_id}"
    audit.record(session, actor, "case.denied", case_id=case_id, details={
        "attempted": action, "reason": denial, "channel": "telegram",
        "telegram_user_id": telegram_user_id,
    })
    return Gate(member, denial)
