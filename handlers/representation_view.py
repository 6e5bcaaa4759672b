"""How a case made on someone's behalf is shown: pure functions of the case's fields.

The half of :mod:`handlers.representation` every case view needs (console, desk, chat),
apart so the quick console path (:mod:`bot.cli.quick`) shows it without the ORM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.models import Case

TO_CHECK = "to_check"
CHECKED = "checked"
REFUSED = "refused"


def staff_note(person: str | None) -> str:
    """What staff are told on the case views (console, desk, chat with its masking)."""
    return f"acting for {person or 'another person'}: authority to be checked"


def documents(case: Case) -> list[dict[str, Any]]:
    """The authority documents that came with the request (name, type, size, SHA-256)."""
    found = (case.details.get("representation") or {}).get("documents") or []
    return [dict(d) for d in found]


def represented_person(case: Case) -> str | None:
    value = (case.details.get("representation") or {}).get("person")
    return str(value) if value else None


def may_answer_representative(case: Case) -> bool:
    """Personal data may go to the representative: authority checked and staff chose so."""
    return bool(case.on_behalf_of and case.authority == CHECKED
                and case.answer_to_representative)


def status_line(case: Case, *, person: str | None = None,
                representative: str | None = None) -> str | None:
    """One line for every case view; None when the requester acts for themselves.

    ``person`` and ``representative`` replace the name and the address (a channel that
    masks personal data passes masked ones)."""
    if not case.on_behalf_of:
        return None
    who = person if person is not None else represented_person(case)
    rep = representative if representative is not None else case.on_behalf_of
    if case.authority not in (CHECKED, REFUSED):
        return f"{staff_note(who)} (representative {rep})"
    head = f"acting for {who or 'another person'} (representative {rep}): "
    when = case.authority_at.strftime("%Y-%m-%d %H:%M UTC") if case.authority_at else "?"
    by = (case.authority_by or "?").removeprefix("staff:")
    if case.authority == CHECKED:
        to = ("the representative" if case.answer_to_representative
              else "the data subject's registered address")
        return (f"{head}authority checked by {by} at {when} "
                f"(document: {case.authority_document}); answers go to {to}")
    return f"{head}authority refused by {by} at {when}"
