"""What a desk form does in the database: check the person, call the domain, one transaction.

Why no rule here: approve, refuse, extend, assign and ask are :mod:`handlers.cases` (the same
calls the chat and the console make); verify, ban and the receipt date are
:mod:`handlers.desk_actions`; resend and delivered (a case whose answer bounced) are
:mod:`handlers.delivery_failed`. Who may act is :func:`handlers.cases.authorise_staff`, the
console's check (the Staff table, then ``[[chat.staff]]``), so a refusal is audited the same
way. A change also queues a chat notification in the same transaction, so the Telegram card
follows a decision taken on the desk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session

from bot.policy_from_settings import org_info
from bot.settings import Settings
from bot.web.auth import find_member
from handlers import cases as engine
from handlers import delivery_failed, desk_actions, representation
from handlers.compose import domain_of
from storage import audit, chat_outbox
from storage import cases as store
from storage.db import Database
from storage.models import Case, Customer, StaffRole
from storage.register import customer_by_number

#: The case engine's action name for each form (what the staff check and the denial name).
ENGINE_ACTION: dict[str, str] = {
    "approve": "approve", "refuse": "refuse", "extend": "extend", "assign": "assign",
    "ask": "request_information", "verify": "verify_identity", "ban": "apply_ban",
    "received": "set_received_date", "authority": "record_authority",
    "answer_to": "choose_answer_recipient",
    "resend": "resend", "delivered": "delivered_another_way",
}
#: Desk-only decisions; like every decision they need the approver role.
DESK_DECISIONS = frozenset({"verify", "ban", "received", "authority", "answer_to"})


@dataclass(frozen=True)
class Result:
    """``status`` is the HTTP status to answer with; ``message`` is shown to the person."""

    status: int
    changed: bool
    message: str


Form = Mapping[str, str]
Act = Callable[[Session, Case, str, str, Form], engine.Decision]


def _field(form: Form, name: str) -> str:
    return str(form.get(name, "")).strip()


def _extend(s: Session, c: Case, actor: str, name: str, f: Form, tz: str) -> engine.Decision:
    notice = engine.extend(s, c, reason=_field(f, "reason"), actor=actor, tz=tz,
                           now=datetime.now(UTC))
    return engine.Decision(c.id, "extend", notice.changed, c.status, notice.message)


def _assign(s: Session, c: Case, actor: str, name: str, f: Form,
            settings: Settings) -> engine.Decision:
    to = _field(f, "assignee") or name
    if to != name and find_member(s, to, settings.chat.staff) is None:
        raise engine.CaseError(f"{to} is not a staff member")
    return engine.assign(s, c, staff=to, actor=actor, now=datetime.now(UTC))


def _verify(s: Session, c: Case, actor: str, f: Form, settings: Settings) -> engine.Decision:
    number = _field(f, "customer_number")
    customer = customer_by_number(s, number) if number else (
        s.get(Customer, c.customer_id) if c.customer_id else None)
    if customer is None:
        raise engine.CaseError("choose the customer this requester is (a customer number)")
    return desk_actions.verify_identity(s, c, customer, note=_field(f, "note"), actor=actor,
                                        auto_approve=settings.approval.auto_approve,
                                        now=datetime.now(UTC),
                                        require_signature=settings.rights.require_signature)


def _received(s: Session, c: Case, actor: str, f: Form, tz: str) -> engine.Decision:
    try:
        day = date.fromisoformat(_field(f, "received_on"))
    except ValueError as exc:
        raise engine.CaseError("the receipt date must be a date like 2026-11-30") from exc
    return desk_actions.set_receipt_date_back(s, c, received_on=day, reason=_field(f, "reason"),
                                              actor=actor, tz=tz, now=datetime.now(UTC))


class DeskActions:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.tz = settings.organisation.timezone
        self.domain = domain_of(settings.mail.outgoing.from_address)

    def _call(self, s: Session, verb: str, case: Case, actor: str, name: str,
              form: Form) -> engine.Decision:
        if verb == "approve":
            return engine.approve(s, case, actor=actor,
                                  require_signature=self.settings.rights.require_signature)
        if verb == "refuse":
            return engine.refuse(s, case, reason=_field(form, "reason"), actor=actor)
        if verb == "extend":
            return _extend(s, case, actor, name, form, self.tz)
        if verb == "assign":
            return _assign(s, case, actor, name, form, self.settings)
        if verb == "ask":
            return engine.request_information(s, case, text=_field(form, "question"),
                                              actor=actor, domain=self.domain)
        if verb == "verify":
            return _verify(s, case, actor, form, self.settings)
        if verb == "ban":
            return desk_actions.apply_ban(s, case, org_info(self.settings),
                                          ban=_field(form, "ban"), note=_field(form, "note"),
                                          actor=actor, now=datetime.now(UTC),
                                          customer_number=_field(form, "customer_number")
                                          or None)
        if verb == "received":
            return _received(s, case, actor, form, self.tz)
        if verb == "resend":
            return delivery_failed.resend_to_registered_address(s, case, actor=actor,
                                                                domain=self.domain)
        if verb == "delivered":
            return delivery_failed.delivered_another_way(s, case, note=_field(form, "note"),
                                                         actor=actor)
        if verb == "authority":
            return representation.record_authority(
                s, org_info(self.settings), case, outcome=_field(form, "outcome"),
                document=_field(form, "document"), reason=_field(form, "reason"),
                actor=actor, now=datetime.now(UTC))
        if verb == "answer_to":
            return representation.choose_answer_recipient(
                s, case, to=_field(form, "to"), reason=_field(form, "reason"), actor=actor,
                now=datetime.now(UTC))
        raise engine.CaseError(f"unknown action {verb!r}")

    def decide(self, name: str, verb: str, case_id: str, form: Form) -> Result:
        """Check, act, notify the chat; a refusal by the rules changes nothing."""
        if verb not in ENGINE_ACTION:
            return Result(404, False, "There is no such action.")
        denied: str | None = None
        try:
            with self.db.session() as session:
                case = store.get_case(session, case_id)
                if case is None:
                    return Result(404, False, f"There is no case {case_id}.")
                check = engine.authorise_staff(session, name, self.settings.chat.staff,
                                               action=ENGINE_ACTION[verb], case_id=case_id)
                if check.allowed and verb in DESK_DECISIONS:
                    denied = self._desk_denial(session, name, verb, case_id)
                elif not check.allowed:
                    denied = check.message
                if denied is not None:
                    return Result(403, False, denied)  # the denial's audit entry commits
                decision = self._call(session, verb, case, check.actor, name, form)
                if decision.changed:
                    chat_outbox.enqueue(session, case_id=case_id, payload={
                        "action": verb, "actor": check.actor, "channel": "web"})
                return Result(200, decision.changed, decision.message)
        except engine.CaseError as exc:  # rolled back: nothing changed
            return Result(409, False, str(exc))

    def _desk_denial(self, session: Session, name: str, verb: str, case_id: str) -> str | None:
        member = find_member(session, name, self.settings.chat.staff)
        if member is not None and member.role == StaffRole.APPROVER.value:
            return None
        audit.record(session, audit.staff_actor(name), "case.denied", case_id=case_id,
                     details={"attempted": ENGINE_ACTION[verb], "reason": "not_approver"})
        return f"{name} is a viewer; only an approver may do that; nothing was changed"
