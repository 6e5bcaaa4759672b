"""Finishing a decided case: carry out an approved one, send the certificate for a refused one.

Decisions are taken in many places (the pipeline's auto-approval, the console, the chat), but
what follows a decision is done here only, by a sweep over the database: whoever approved, the
same code changes the register and writes the letters, in the same transaction that closes the
case. A crash in between leaves the case ``approved`` and the next sweep finishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers import cases as engine
from handlers.clock import Clock
from handlers.policy import RightsPolicy
from handlers.rights import (
    OrgInfo,
    Outcome,
    Proposal,
    RightsError,
    decide,
    in_execution_order,
    make_handlers,
    refuse_request,
    send_extension_notice,
)
from storage import audit
from storage import cases as case_store
from storage.db import Database
from storage.models import Case, CaseStatus, Customer

log = logging.getLogger(__name__)


def _customer(session: Session, case: Case) -> Customer | None:
    return session.get(Customer, case.customer_id) if case.customer_id is not None else None


def propose_all(
    session: Session, case: Case, org: OrgInfo, clock: Clock, rights: RightsPolicy | None = None
) -> dict[str, Proposal]:
    """Every requested right's proposal (for staff to read, and to know if staff must decide)."""
    customer = _customer(session, case)
    if customer is None:
        return {}
    handlers = make_handlers(org, clock, rights)
    extracted: Mapping[str, Any] = case.details.get("extracted", {})
    return {right: handlers[right].propose(session, case, customer, extracted)
            for right in case.types if right in handlers}


def carry_out_case(
    session: Session, case: Case, org: OrgInfo, *, actor: str, clock: Clock,
    rights: RightsPolicy | None = None,
) -> list[Outcome]:
    """Carry out every right of an approved case, then close it as done.

    A ban already applied when the case opened (``case.applied_at_once``) is not done again:
    it was set and confirmed then.
    """
    customer = _customer(session, case)
    if customer is None:
        raise RightsError(f"{case.id}: no verified customer record; nothing was done")
    handlers = make_handlers(org, clock, rights)
    done_at_once = set(case.applied_at_once)
    extracted: Mapping[str, Any] = case.details.get("extracted", {})
    outcomes: list[Outcome] = []
    # Access before erasure: a report must be built from the data before it is erased.
    for right in in_execution_order(case.types):
        if right in done_at_once:
            continue
        proposal = handlers[right].propose(session, case, customer, extracted)
        if right == "objection":
            # Staff approving an objection upholds it; refusing it goes through refuse_request.
            proposal = decide(proposal, upheld=True, note=str(case.details.get("note", "")))
        outcomes.append(handlers[right].carry_out(session, case, customer, proposal, actor))
    engine.mark_done(session, case, actor=actor,
                     reasons=[f"{o.right}: {o.result}" for o in outcomes])
    return outcomes


def send_refusal_certificate(session: Session, case: Case, org: OrgInfo, *, actor: str,
                             now: datetime) -> None:
    """The written certificate with the reasons and the complaint route, sent once."""
    customer = _customer(session, case)
    right = case.types[0] if case.types else "access"
    refuse_request(session, case, customer, org=org, right=right, actor=actor, now=now,
                   note=case.refusal_reason or None)
    case.refusal_letter_sent = True
    session.add(case)


def finish_decided(db: Database, org: OrgInfo, *, clock: Clock,
                   case_id: str | None = None,
                   rights: RightsPolicy | None = None) -> dict[str, int]:
    """Sweep: every approved case is carried out, every refusal gets its letter. Idempotent."""
    with db.read_session() as session:
        ids = [case_id] if case_id else case_store.cases_to_finish(session)
        extended = [n.case_id for n in engine.extension_notices_pending(session)]
    counts = {"done": 0, "refused": 0, "extended": 0, "failed": 0}
    for cid in extended:
        with db.session() as session:
            case = session.get(Case, cid, with_for_update=True)
            if case is None:
                continue
            actor = case.extended_by or audit.BOT_ACTOR
            # Marking first makes a concurrent sweep skip it; both commit together or not at all.
            if engine.mark_extension_notified(session, case, actor=actor, now=clock.now()):
                send_extension_notice(session, case, org=org, actor=actor,
                                      note=case.extension_reason or None)
                counts["extended"] += 1
    for cid in ids:
        try:
            with db.session() as session:
                case = session.get(Case, cid, with_for_update=True)
                if case is None:
                    continue
                actor = case.approved_by or case.refused_by or audit.BOT_ACTOR
                if case.status == CaseStatus.APPROVED:
                    carry_out_case(session, case, org, actor=actor, clock=clock, rights=rights)
                    counts["done"] += 1
                elif (case.status == CaseStatus.REFUSED
                      and not case.refusal_letter_sent):
                    send_refusal_certificate(session, case, org, actor=actor, now=clock.now())
                    counts["refused"] += 1
        except RightsError as exc:
            # Nothing changed (the transaction rolled back); staff see why on the case.
            log.warning("case %s could not be finished: %s", cid, exc.__class__.__name__)
            _note_failure(db, cid, str(exc))
            counts["failed"] += 1
    return counts


def _note_failure(db: Database, case_id: str, message: str) -> None:
    with db.session() as session:
        case = session.get(Case, case_id)
        if case is not None:
            # Marked so the sweep does not retry forever; staff decide (refuse or fix the record).
            case.execution_failed = True
            if message not in case.reasons:
                case.reasons = [*case.reasons, message]
            session.add(case)
