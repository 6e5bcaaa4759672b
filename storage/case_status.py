"""Which case status may follow which: checked before every change, like Fides' request states.

A closed case (done, refused, withdrawn) never reopens for a new question; a follow-up becomes
a new case. That keeps every answer tied to exactly one decision in the audit log. A requester
may withdraw until the answer is done, approved or not.

One way back: when the final letter (the answer or the refusal) bounces, the requester got
nothing and the GDPR deadline is not met, so the case goes to ``delivery_failed``, an open
status staff must act on: send it again to the corrected registered address or record that
it was delivered another way (both back to ``done`` or ``refused``: handlers.delivery_failed),
or record a withdrawal. Approving again is refused (it would carry the rights out again).
"""

from __future__ import annotations

from mailformat import DsrbotError
from storage.states import CaseStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.RECEIVED: frozenset({S.AWAITING_IDENTITY, S.AWAITING_APPROVAL, S.APPROVED, S.REFUSED,
                           S.WITHDRAWN}),
    S.AWAITING_IDENTITY: frozenset({S.AWAITING_APPROVAL, S.APPROVED, S.REFUSED, S.WITHDRAWN}),
    S.AWAITING_APPROVAL: frozenset({S.AWAITING_IDENTITY, S.APPROVED, S.REFUSED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.DONE, S.REFUSED, S.WITHDRAWN, S.DELIVERY_FAILED}),
    S.DONE: frozenset({S.DELIVERY_FAILED}),
    S.REFUSED: frozenset({S.DELIVERY_FAILED}),
    S.WITHDRAWN: frozenset(),
    S.DELIVERY_FAILED: frozenset({S.DONE, S.REFUSED, S.WITHDRAWN}),
}
CLOSED = frozenset({S.DONE, S.REFUSED, S.WITHDRAWN})


class TransitionError(DsrbotError):
    """A status change the case's current state does not allow."""


def check_transition(current: str, new: str) -> None:
    cur, nxt = S(current), S(new)
    if nxt not in ALLOWED[cur]:
        # A closed case's only way back is a bounce of its final letter: not a staff choice.
        allowed = ("nothing (case is closed)" if cur in CLOSED
                   else ", ".join(sorted(s.value for s in ALLOWED[cur])))
        raise TransitionError(f"cannot go from {cur.value} to {nxt.value}; allowed: {allowed}")
