"""What every right's handler shares: proposals, outcomes, the identity gate and letter sending.

A handler first *proposes* (what would be done and why, as language-neutral reason codes),
then, once staff or ``approval.auto_approve`` allow it, *carries out*: changes the register,
writes audit entries attributed to the actor, and puts the letters in the outbox, all in the
caller's transaction. A proposal is plain JSON (``to_dict``/``from_dict``) so it can wait in
``case.details`` while staff decide, possibly in another process.

The gate is the same for every right, whatever a proposal says: nothing changes and no
personal data leaves unless the case's requester is the verified owner of this customer
record, and personal data goes only to the address in the register (issue 5, rule 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, Protocol

from sqlmodel import Session, select

from handlers import identity
from handlers.cases import add_thread_id
from handlers.clock import Clock
from handlers.letters import normalise_language, render_letter
from handlers.policy import OrgInfo, RightsPolicy
from mailformat import DsrbotError, OutAttachment
from storage import audit, outbox
from storage.models import Case, Customer, Party, PartyKind
from storage.register import DEFAULT_PARTIES

Action = Literal["carry_out", "partial", "refuse", "ask_staff", "await_identity"]
Result = Literal["done", "partial", "refused"]


class RightsError(DsrbotError):
    """A right cannot be carried out as asked (not verified, no decision...). Safe for staff."""


@dataclass(frozen=True)
class Reason:
    """Why, as a catalogue code (``reason.<code>``) and its parameters (JSON values only)."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        return cls(str(data["code"]), dict(data.get("params") or {}))


@dataclass(frozen=True)
class Hold:
    """Something that keeps data from being erased: which fields, why, and until when."""

    code: str
    fields: tuple[str, ...]
    until: date | None = None
    count: int | None = None

    def as_reason(self) -> Reason:
        params: dict[str, Any] = {"fields": list(self.fields)}
        if self.until is not None:
            params["until"] = self.until.isoformat()
        if self.count is not None:
            params["count"] = self.count
        return Reason(self.code, params)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "fields": list(self.fields),
                "until": self.until.isoformat() if self.until else None, "count": self.count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hold:
        until = data.get("until")
        return cls(str(data["code"]), tuple(data.get("fields") or ()),
                   date.fromisoformat(until) if until else None, data.get("count"))


@dataclass(frozen=True)
class Proposal:
    """What a handler would do. ``needs_staff`` overrides ``approval.auto_approve``."""

    right: str
    action: Action
    reasons: tuple[Reason, ...] = ()
    holds: tuple[Hold, ...] = ()
    needs_staff: bool = False
    #: Handler-specific, JSON only (rectification: the validated changes; objection: grounds
    #: and, once staff decide, the decision).
    params: Mapping[str, Any] = field(default_factory=dict)

    def with_params(self, **values: Any) -> Proposal:
        return replace(self, params={**self.params, **values})

    def to_dict(self) -> dict[str, Any]:
        return {"right": self.right, "action": self.action,
                "reasons": [r.to_dict() for r in self.reasons],
                "holds": [h.to_dict() for h in self.holds],
                "needs_staff": self.needs_staff, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proposal:
        return cls(right=str(data["right"]), action=data["action"],
                   reasons=tuple(Reason.from_dict(r) for r in data.get("reasons") or ()),
                   holds=tuple(Hold.from_dict(h) for h in data.get("holds") or ()),
                   needs_staff=bool(data.get("needs_staff")),
                   params=dict(data.get("params") or {}))

    def staff_summary(self) -> list[str]:
        """Reason codes for staff (chat and console); no personal data."""
        return [f"{self.right}: {self.action}"] + [r.code for r in self.reasons] + [
            f"hold {h.code}" for h in self.holds]


@dataclass(frozen=True)
class SentLetter:
    kind: str
    language: str
    recipient: str
    outbound_id: int


@dataclass(frozen=True)
class Outcome:
    right: str
    result: Result
    reasons: tuple[Reason, ...] = ()
    letters: tuple[SentLetter, ...] = ()
    changed_fields: tuple[str, ...] = ()


class GatedHandler:
    """The shape every right's handler shares: no proposal without the identity gate.

    ``propose`` answers "await identity" unless the case's requester is the verified owner of
    this record; only then does the right's own ``propose_verified`` run. A new right cannot
    forget the gate, because it never writes ``propose`` itself.
    """

    right: str = ""

    def __init__(self, org: OrgInfo, clock: Clock, rights: RightsPolicy | None = None) -> None:
        self.org = org
        self.clock = clock
        self.rights = rights or RightsPolicy()

    def signature_required(self, case: Case) -> bool:
        """The company insists on a signature for this right (``rights.require_signature``)
        and the request carries no valid one; by default a verified identity is enough."""
        return self.right in self.rights.require_signature and case.signature_state != "valid"

    def propose(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal:
        if not is_verified_owner(case, customer):
            return await_identity(self.right)
        return self.propose_verified(session, case, customer, extracted)

    def propose_verified(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal:
        raise NotImplementedError


class RightHandler(Protocol):
    right: str

    def propose(
        self, session: Session, case: Case, customer: Customer, extracted: Mapping[str, Any]
    ) -> Proposal: ...

    def carry_out(
        self, session: Session, case: Case, customer: Customer, proposal: Proposal, actor: str
    ) -> Outcome: ...


# --- the identity gate ---------------------------------------------------------------------


def is_verified_owner(case: Case, customer: Customer) -> bool:
    """The case's requester is verified as the owner of exactly this customer record."""
    assessment = identity.case_assessment(case)
    return identity.may_change_register(assessment) and assessment.customer_id == customer.id


def require_verified_owner(case: Case, customer: Customer) -> None:
    if not is_verified_owner(case, customer):
        raise RightsError(f"{case.id}: the requester is not verified as this customer; "
                          "nothing was changed or sent")


def registered_recipient(case: Case, customer: Customer) -> str:
    """The registered address, if personal data may go there; read it BEFORE changing it.

    A request made on behalf of someone is answered there too (the data subject's own
    address), unless staff checked the representative's authority and chose, explicitly,
    to answer the representative (:mod:`handlers.representation`)."""
    require_verified_owner(case, customer)
    if (case.on_behalf_of and case.authority == "checked"
            and case.answer_to_representative):
        return case.on_behalf_of
    if not identity.may_send_personal_data(identity.case_assessment(case), customer.email,
                                           customer):
        raise RightsError(f"{case.id}: the register holds no usable email address for this "
                          "customer; answer by post")
    return customer.email


def await_identity(right: str) -> Proposal:
    return Proposal(right, "await_identity", (Reason("identity_not_verified"),), needs_staff=True)


# --- small register helpers ----------------------------------------------------------------


def customer_party(session: Session) -> Party | None:
    return session.exec(select(Party).where(Party.kind == PartyKind.CUSTOMER.value)
                        .order_by(Party.id)).first()  # type: ignore[arg-type]


_DEFAULT_PARTY_NAMES = frozenset(name for name, _ in DEFAULT_PARTIES)


def party_view(party: Party | None) -> dict[str, str] | None:
    """``{name, kind}`` for letters; a built-in party's slug name is left out (it is not a name
    a reader knows, and it is English in every language's letter)."""
    if party is None:
        return None
    name = "" if party.name in _DEFAULT_PARTY_NAMES else party.name
    return {"name": name, "kind": party.kind}


def record_audit(session: Session, actor: str, action: str, case: Case, customer: Customer,
                 **details: Any) -> None:
    audit.record(session, actor, action, case_id=case.id,
                 customer_number=customer.customer_number, details=details)


# --- letters -------------------------------------------------------------------------------


def case_language(case: Case) -> str:
    return normalise_language(case.language)


def send_letter(
    session: Session,
    org: OrgInfo,
    case: Case | None,
    *,
    kind: str,
    recipient: str,
    context: Mapping[str, Any],
    language: str | None = None,
    attachments: Sequence[OutAttachment] = (),
    actor: str = audit.BOT_ACTOR,
    thread: bool = True,
) -> SentLetter:
    """Render ``kind`` and put it in the outbox in the caller's transaction.

    Letters to the requester are threaded to the case (In-Reply-To the request) and their
    Message-ID joins the case's thread; notices to other parties are not (``thread=False``).
    """
    lang = normalise_language(language if language is not None else
                              (case.language if case else None))
    values = {"org": org.letter_context(), "case_id": case.id if case else "", **context}
    letter = render_letter(kind, lang, values, tz=org.timezone)
    ids = list(case.thread_message_ids) if (case is not None and thread) else []
    row = outbox.enqueue(
        session, kind=kind, recipient=recipient, subject=letter.subject,
        body_text=letter.text, body_html=letter.html, domain=org.domain,
        case_id=case.id if case else None, in_reply_to=ids[0] if ids else None,
        references=ids, attachments=list(attachments), actor=actor,
    )
    if case is not None and thread:
        add_thread_id(session, case, row.message_id, actor=actor)
    assert row.id is not None
    return SentLetter(kind, lang, row.recipient, row.id)


def send_refusal(
    session: Session,
    org: OrgInfo,
    case: Case,
    customer: Customer | None,
    *,
    right: str,
    reasons: Sequence[Reason],
    actor: str,
    note: str | None = None,
    now: datetime,
) -> SentLetter:
    """The written certificate of a refusal, with its reasons and the way to the Ombudsman.

    To a verified customer it goes to the registered address. An unverified requester gets
    it only with identity reasons (which reveal nothing about the register); with any other
    reason they get the neutral reply instead.
    """
    if customer is not None and is_verified_owner(case, customer):
        recipient = registered_recipient(case, customer)
    else:
        safe = {"identity_not_verified", "signature_missing"}
        if not reasons or any(r.code not in safe for r in reasons):
            return send_letter(session, org, case, kind="neutral", recipient=case.requester,
                               context={}, actor=actor)
        recipient = case.requester
    return send_letter(session, org, case, kind="refusal", recipient=recipient, context={
        "right": right, "reasons": [r.to_dict() for r in reasons], "note": note,
        "decided_at": now}, actor=actor)
