"""What a chat action does in the database: one short transaction around one domain call.

Why this module holds no rule: approving, refusing, extending, assigning and asking are the
case engine's (:mod:`handlers.cases`), the same functions the console calls; who may do them
is :mod:`bot.chat.staff` plus the engine's ``staff_denial``. Here we only open the transaction,
call the engine, and write the chat outbox row in that same transaction, so the chat message
is edited if and only if the change committed. Everything is synchronous: the Telegram
handlers run it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from bot.chat import render
from bot.chat.manual_intake import IntakeFile, build_manual_message
from bot.chat.staff import Gate, Member, check
from bot.chat.views import CaseView, load_case_view
from bot.clock import SystemClock
from bot.policy_from_settings import org_info
from bot.settings import Settings
from handlers import (
    bans_at_once,
    delivery_failed,
    desk_actions,
    identity,
    representation,
)
from handlers import cases as engine
from handlers.clock import Clock
from mailformat import domain_of
from storage import audit, chat_outbox, inbox
from storage import cases as store
from storage.db import Database
from storage.models import Case

#: ``/received ID DATE reason``: set the receipt date back (handlers.desk_actions, as the desk).
RECEIVED = "received"
#: ``/resend ID`` and ``/delivered ID how``: the way out of delivery_failed
#: (handlers.delivery_failed, as the console and the desk).
RESEND, DELIVERED = "resend", "delivered"
#: ``/authority ID checked DOCUMENT reason`` or ``/authority ID refused reason``, and
#: ``/answerto ID representative|subject reason`` (handlers.representation, as the desk).
AUTHORITY = "authority"
ANSWER_TO = "answerto"
#: The case engine's name for what each button or command does (for the staff check).
ENGINE_ACTION: dict[str, str] = {
    render.APPROVE: "approve",
    render.BAN: "approve",
    render.REFUSE: "refuse",
    render.EXTEND: "extend",
    RECEIVED: "set_received_date",
    RESEND: "resend",
    DELIVERED: "delivered_another_way",
    AUTHORITY: "record_authority",
    ANSWER_TO: "choose_answer_recipient",
    render.ASSIGN: "assign",
    render.ASK: "request_information",
    render.DETAILS: "view",
    "view": "view",
    "intake": "intake",
}


@dataclass(frozen=True)
class Outcome:
    """What to tell the person who acted. ``changed`` is False for a repeat or a refusal."""

    ok: bool
    changed: bool
    message: str


class ChatActions:
    """The database side of the chat, one method per thing staff can do."""

    def __init__(self, settings: Settings, db: Database, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.tz = settings.organisation.timezone
        self.domain = domain_of(settings.mail.outgoing.from_address)

    def gate(
        self, telegram_user_id: int, verb: str, *, chat_allowed: bool, case_id: str | None = None
    ) -> Gate:
        """May this user do ``verb`` here? A refusal is audited and committed."""
        with self.db.session() as session:
            return check(session, telegram_user_id, self.settings.chat.staff,
                         action=ENGINE_ACTION.get(verb, verb), chat_allowed=chat_allowed,
                         case_id=case_id)

    def decide(self, member: Member, verb: str, case_id: str, text: str = "") -> Outcome:
        """Approve, refuse, extend, assign or ask, through the case engine."""
        try:
            with self.db.session() as session:
                case = store.get_case(session, case_id)
                if case is None:
                    return Outcome(False, False, f"There is no case {case_id}.")
                changed, message = self._call_engine(session, member, verb, case, text)
                if changed:
                    chat_outbox.enqueue(session, case_id=case_id,
                                        payload={"action": verb, "actor": member.actor})
                return Outcome(True, changed, message)
        except engine.CaseError as exc:  # rolled back: nothing changed
            return Outcome(False, False, str(exc))

    def _call_engine(
        self, session: Session, member: Member, verb: str, case: Case, text: str
    ) -> tuple[bool, str]:
        actor = member.actor
        if verb == render.APPROVE:
            decision = engine.approve(
                session, case, actor=actor,
                require_signature=self.settings.rights.require_signature)
        elif verb == render.BAN:
            try:
                who, applied = bans_at_once.apply_ban_for_case(
                    session, org_info(self.settings), case, self.clock.now(), actor=actor)
            except bans_at_once.BanError as exc:
                raise engine.CaseError(str(exc)) from exc
            return bool(applied), (f"{case.id}: {', '.join(applied) or 'nothing new'} applied "
                                   f"for customer {who.customer_number}")
        elif verb == render.REFUSE:
            decision = engine.refuse(session, case, reason=text, actor=actor)
        elif verb == render.ASSIGN:
            decision = engine.assign(session, case, staff=member.name, actor=actor,
                                     now=self.clock.now())
        elif verb == render.ASK:
            decision = engine.request_information(session, case, text=text, actor=actor,
                                                  domain=self.domain)
        elif verb == render.EXTEND:
            notice = engine.extend(session, case, reason=text, actor=actor, tz=self.tz,
                                   now=self.clock.now())
            return notice.changed, notice.message
        elif verb == RECEIVED:
            day, _, reason = text.partition(" ")
            try:
                received_on = date.fromisoformat(day)
            except ValueError as exc:
                raise engine.CaseError("Usage: /received DSR-2026-0001 YYYY-MM-DD the reason"
                                       ) from exc
            decision = desk_actions.set_receipt_date_back(
                session, case, received_on=received_on, reason=reason, actor=actor,
                now=self.clock.now(), tz=self.tz)
        elif verb == RESEND:
            decision = delivery_failed.resend_to_registered_address(
                session, case, actor=actor, domain=self.domain)
        elif verb == DELIVERED:
            decision = delivery_failed.delivered_another_way(session, case, note=text,
                                                             actor=actor)
        elif verb in (AUTHORITY, ANSWER_TO):
            decision = self._representation(session, verb, case, text, actor)
        else:
            raise engine.CaseError(f"unknown action {verb!r}")
        return decision.changed, decision.message

    def _representation(self, session: Session, verb: str, case: Case, text: str,
                        actor: str) -> engine.Decision:
        if verb == ANSWER_TO:
            to, _, reason = text.partition(" ")
            return representation.choose_answer_recipient(
                session, case, to=to.lower(), reason=reason, actor=actor, now=self.clock.now())
        outcome, _, rest = text.partition(" ")
        document, _, reason = rest.partition(" ") if outcome == "checked" else ("", "", rest)
        if outcome not in representation.OUTCOMES:
            raise engine.CaseError("Usage: /authority DSR-2026-0001 checked DOCUMENT the reason, "
                                   "or /authority DSR-2026-0001 refused the reason")
        return representation.record_authority(
            session, org_info(self.settings), case, outcome=outcome, document=document,
            reason=reason, actor=actor, now=self.clock.now())

    def view(self, case_id: str, looker: Member | None = None) -> CaseView | None:
        """The case as the chat shows it. A staff member's look (``/case``, the details button)
        is audited like the desk's (``case.viewed``, with whether the chat shows personal data
        unmasked); refreshing a message already shown (``looker`` None) is not a new look."""
        with self.db.read_session() as session:
            view = load_case_view(session, case_id)
        if view is not None and looker is not None:
            with self.db.session() as session:
                audit.record(session, looker.actor, "case.viewed", case_id=case_id, details={
                    "channel": "chat",
                    "personal_data": self.settings.chat.personal_data == "full"})
        return view

    def requester_verified(self, case_id: str) -> bool:
        """Whether a refusal letter may state reasons (else the requester gets the neutral one)."""
        with self.db.read_session() as session:
            case = store.get_case(session, case_id)
            return case is not None and identity.may_change_register(
                identity.case_assessment(case))

    def shown_message(self, case_id: str) -> int | None:
        """The staff chat message that shows this case (the one the notifier keeps current)."""
        chat_id = self.settings.chat.telegram_chat_id
        if chat_id is None:
            return None
        with self.db.read_session() as session:
            link = chat_outbox.message_for(session, case_id, chat_id)
            return link.message_id if link else None

    def open_cases(self) -> list[Case]:
        with self.db.read_session() as session:
            return engine.open_cases(session)

    def due(self, days: int, today: date) -> list[Case]:
        """Overdue cases first, then those due within ``days``."""
        with self.db.read_session() as session:
            return engine.overdue(session, today) + engine.due_within(session, days, today)

    def intake(
        self, member: Member, text: str, files: Sequence[IntakeFile], now: datetime
    ) -> Outcome:
        """Store a letter or phone request in the inbox (channel ``manual``) for the pipeline.

        Raises :class:`bot.chat.manual_intake.IntakeError` when there is nothing to store.
        """
        org = self.settings.organisation.addresses[0] if self.settings.organisation.addresses \
            else self.settings.mail.outgoing.from_address
        raw = build_manual_message(text=text, files=files, entered_by=member.name,
                                   to_address=org, domain=self.domain, now=now)
        with self.db.session() as session:
            row, new = inbox.store_inbound(session, raw, channel="manual", envelope_from="",
                                           envelope_to=[org], received_at=now)
            audit.record(session, member.actor, "inbound.manual", details={
                "inbound_id": row.id, "attachments": len(files), "bytes": len(raw)})
        if not new:
            return Outcome(True, False, f"Already stored as manual request #{row.id}.")
        return Outcome(True, True, (
            f"Stored as manual request #{row.id}. It goes through the same checks as mail and "
            "will show here as a case."))
