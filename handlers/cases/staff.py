"""Who may take a decision: the Staff table first, then ``chat.staff`` from settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session

from handlers.cases.rules import STAFF_ACTIONS
from storage import audit
from storage import cases as store
from storage.models import StaffRole


class StaffEntry(Protocol):
    """A configured staff member (``settings.chat.staff`` items fit this)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class StaffCheck:
    allowed: bool
    actor: str
    message: str


def staff_denial(role: str | None, active: bool, action: str) -> str | None:
    """Why a person may not take ``action`` (None when they may): unknown, inactive or viewer."""
    if role is None:
        return "unknown"
    if not active:
        return "inactive"
    if action in STAFF_ACTIONS and role != StaffRole.APPROVER.value:
        return "not_approver"
    return None


# --- who may decide ------------------------------------------------------------------------------


def authorise_staff(
    session: Session,
    name: str,
    configured: Sequence[StaffEntry],
    *,
    action: str,
    case_id: str | None = None,
) -> StaffCheck:
    """May ``name`` take ``action``? The Staff table first, then ``chat.staff`` from settings.

    A refusal is audited (in the caller's transaction, which should commit it) so attempts by
    viewers or unknown names show in the trail.
    """
    name = name.strip()
    actor = audit.staff_actor(name[:100])
    row = store.staff_by_name(session, name) if name else None
    if row is not None:
        role: str | None = row.role
        active = row.active
    else:
        match = next((s for s in configured if s.name == name), None) if name else None
        role, active = (match.role if match else None), True
    denial = staff_denial(role, active, action)
    if denial is None:
        return StaffCheck(True, actor, "")
    audit.record(session, actor, "case.denied", case_id=case_id,
                 details={"attempted": action, "reason": denial})
    message = {
        "unknown": f"{name or '(no name)'} is not a staff member; nothing was changed",
        "inactive": f"{name} is not an active staff member; nothing was changed",
        "not_approver": f"{name} is a {role}; only an approver may {action}; nothing was changed",
    }[denial]
    return StaffCheck(False, actor, message)
