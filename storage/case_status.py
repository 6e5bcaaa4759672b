"""Which case status may follow which: checked before every change, like Fides' request states.

A closed case (done, refused, withdrawn) never reopens; a follow-up becomes a new case. That
keeps every answer tied to exactly one decision in the audit log. A requester may withdraw
until the answer is done, approved or not.
"""

from __future__ import annotations

from mailformat import DsrbotError
from storage.models import CaseStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.RECEIVED: frozenset({S.AWAITING_IDENTITY, S.AWAITING_APPROVAL, S.APPROVED, S.REFUSED,
                           S.WITHDRAWN}),
    S.AWAITING_IDENTITY: frozenset({S.AWAITING_APPROVAL, S.APPROVED, S.REFUSED, S.WITHDRAWN}),
    S.AWAITING_APPROVAL: frozenset({S.AWAITING_IDENTITY, S.APPROVED, S.REFUSED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.DONE, S.REFUSED, S.WITHDRAWN}),
    S.DONE: frozenset(),
    S.REFUSED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
CLOSED = frozenset({S.DONE, S.REFUSED, S.WITHDRAWN})


class TransitionError(DsrbotError):
    """A status change the case's current state does not allow."""


def check_transition(current: str, new: str) -> None:
    cur, nxt = S(current), S(new)
    if nxt not in ALLOWED[cur]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[cur])) or "nothing (case is closed)"
        raise TransitionError(f"cannot go from {cur.value} to {nxt.value}; allowed: {allowed}")
