"""Marketing and publication bans applied at once: the only register changes below "verified".

Why these two, and why without a code (issue 21, item 6): GDPR Art. 21(3) makes the objection
to direct marketing unconditional and the privacy notice promises the ban "at once, without
exception"; a publication ban is the same kind of switch. Both only *reduce* processing and
reveal nothing, so the worst a forger achieves is a ban the owner undoes, and the owner is told
at once, at the registered address, how to undo it. Every other change waits for "verified".

Two ways in, both audited and attributed:

* :func:`apply_from_registered_address`: mail from exactly one customer's registered address
  (level ``claimed`` or better) that names no other customer: applied in the transaction that
  opens the case, no code, no staff. In a mail that also asks for more, the bans apply now
  and the rest waits for verification (``Case.applied_at_once`` keeps them from being done
  twice).
* :func:`apply_by_staff`: a ban asked from an address not in the register, naming a customer,
  waits for staff; one tap ("apply ban") sets it on the named customer. The chat's tap, the
  console's ``dsrbot apply-ban`` and the desk's Ban button all come through
  :func:`apply_ban_for_case`: the same customer (the one staff name, or the one the case
  matched or names), the same confirmation to that customer's registered address (never to
  the sender), the same audit entry. On the desk staff may also set a ban the mail did not ask
  for (asked on the phone), naming which one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from handlers.policy import OrgInfo
from handlers.rights.base import send_letter
from mailformat import DsrbotError
from storage import audit
from storage import cases as store
from storage.models import Case, CaseStatus, Customer

#: Request type -> (customer flag, confirmation letter kind).
BANS: dict[str, tuple[str, str]] = {
    "marketing_optout": ("marketing_ban", "marketing_optout"),
    "publication_ban": ("publication_ban", "publication_ban"),
}


class BanError(DsrbotError):
    """The ban cannot be applied as asked (no ban in the case, no customer). Safe for staff."""


def bans_in(types: Sequence[str]) -> list[str]:
    return [t for t in types if t in BANS]


def apply_from_registered_address(
    session: Session, org: OrgInfo, case: Case, customer: Customer, now: datetime
) -> list[str]:
    """Apply the case's bans to ``customer`` (whose registered address sent it); close the case
    when bans are all it asks for. Returns the request types applied."""
    applied = _apply(session, org, case, customer, now, actor=audit.BOT_ACTOR,
                     basis="mail from the registered address (below verified: a ban only "
                           "reduces processing)")
    if applied and set(case.types) <= set(applied):
        # The case is closed with the record it changed (its level stays what was proven).
        case.customer_id = customer.id
        case.approved_by = audit.BOT_ACTOR
        reason = "ban applied at once from the registered address"
        store.transition(session, case, CaseStatus.APPROVED, actor=audit.BOT_ACTOR,
                         reasons=[reason])
        store.transition(session, case, CaseStatus.DONE, actor=audit.BOT_ACTOR,
                         reasons=[reason])
    return applied


def apply_by_staff(
    session: Session, org: OrgInfo, case: Case, customer: Customer, now: datetime, *, actor: str,
    rights: Sequence[str] | None = None, note: str = "",
) -> list[str]:
    """Staff's one tap: set the case's bans (or ``rights``, bans staff name) on ``customer``
    (the person the mail names). A ban set before is confirmed again, never set twice.

    The confirmation goes to the customer's registered address, never to the sender."""
    wanted = bans_in(case.types) if rights is None else bans_in(rights)
    if not wanted:
        raise BanError(f"{case.id} asks for no marketing or publication ban")
    if customer.anonymised_at is not None or not (customer.email or "").strip():
        raise BanError(f"{case.id}: the customer has no registered address to confirm to")
    basis = "applied by staff for the customer the mail names"
    applied = _apply(session, org, case, customer, now, actor=actor, rights=wanted,
                     basis=f"{basis}: {note}" if note else basis)
    if set(case.types) <= set(applied) and case.status not in (
            CaseStatus.DONE, CaseStatus.REFUSED, CaseStatus.WITHDRAWN):
        reasons = ["ban applied by staff"]
        if case.status != CaseStatus.APPROVED:
            case.approved_by = actor
            store.transition(session, case, CaseStatus.APPROVED, actor=actor, reasons=reasons)
        store.transition(session, case, CaseStatus.DONE, actor=actor, reasons=reasons)
    return applied


def apply_ban_for_case(
    session: Session, org: OrgInfo, case: Case, now: datetime, *, actor: str,
    customer_number: str | None = None, rights: Sequence[str] | None = None, note: str = "",
) -> tuple[Customer, list[str]]:
    """Staff's "apply ban" on a case: on the customer staff name, or on the one register
    customer the mail names (``details["identity"]["candidate_ids"]``) or the case matched."""
    if customer_number:
        customer = session.exec(select(Customer).where(
            Customer.customer_number == customer_number.strip())).first()
        if customer is None:
            raise BanError(f"no customer {customer_number.strip()} in the register")
    else:
        ids = list((case.details.get("identity") or {}).get("candidate_ids") or ())
        if case.customer_id is not None and not ids:
            ids = [case.customer_id]
        if len(ids) != 1:
            raise BanError(f"{case.id} names {len(ids)} register customers: say which one "
                           "(its customer number)")
        found = session.get(Customer, ids[0])
        if found is None:
            raise BanError(f"{case.id}: the customer it names is no longer in the register")
        customer = found
    return customer, apply_by_staff(session, org, case, customer, now, actor=actor,
                                    rights=rights, note=note)


def _apply(session: Session, org: OrgInfo, case: Case, customer: Customer, now: datetime, *,
           actor: str, basis: str, rights: Sequence[str] | None = None) -> list[str]:
    done = set(case.applied_at_once)
    applied: list[str] = []
    for right in bans_in(case.types) if rights is None else rights:
        if right in done:
            continue
        flag, letter = BANS[right]
        already = bool(getattr(customer, flag))
        if not already:
            setattr(customer, flag, True)
            customer.updated_at = now
            session.add(customer)
            session.flush()
        sent = send_letter(session, org, case, kind=letter, recipient=customer.email,
                           context={"set_at": now, "undo": True}, actor=actor)
        audit.record(session, actor, f"rights.{right}.set_at_once", case_id=case.id,
                     customer_number=customer.customer_number,
                     details={"flag": flag, "already_set": already, "basis": basis,
                              "outbound_id": sent.outbound_id}, at=now)
        applied.append(right)
    if applied:
        case.applied_at_once = sorted(done | set(applied))
        session.add(case)
    return applied
