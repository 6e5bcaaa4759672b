"""Everything the case page shows, read in one transaction that also audits the look.

Why the look is audited here, in the same transaction as the read: the notice's access control
means every time a person sees a customer's data, the trail says who saw whose. A viewer's
look is audited too (``personal_data: false``), since they see the case exists and its state.

The mail is shown as text only: the parser's text part, or its text rendering of an HTML-only
mail. No HTML from a mail ever reaches the browser, so its scripts, event handlers,
``javascript:`` links and remote images have nowhere to run or load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from bot.policy_from_settings import identity_policy
from bot.web import present
from bot.web.auth import Member
from handlers import cases as engine
from handlers import representation
from handlers.cases.identity_summary import IdentitySummary, identity_summary
from handlers.challenge import challenge_recipient
from handlers.identity import authenticate_sender, candidate_keys
from handlers.parse import MalformedMessage, ParsedMessage, parse_message
from storage import audit, desk_queries
from storage import cases as store
from storage.candidates import find_candidates
from storage.challenges import HELD
from storage.db import Database
from storage.models import Case, Customer, InboundMessage
from storage.register import customers_by_email


@dataclass
class AttachmentInfo:
    index: int
    filename: str
    content_type: str
    size: int
    inline: bool
    kind: str  # "image", "pdf" or "file"


@dataclass
class MailView:
    inbound_id: int
    received_at: str
    channel: str
    sender: str
    subject: str
    text: str
    had_html: bool
    attachments: list[AttachmentInfo]
    auth: list[str]
    defects: list[str]


@dataclass
class CasePage:
    case: Case
    role: str
    personal: bool
    requester: str
    customer: Customer | None
    due: str
    due_state: str
    days_left: int | None
    mails: list[MailView] = field(default_factory=list)
    classification: dict[str, Any] = field(default_factory=dict)
    challenges: list[dict[str, str]] = field(default_factory=list)
    candidates: list[Customer] = field(default_factory=list)
    holds: list[Any] = field(default_factory=list)
    unpaid: list[Any] = field(default_factory=list)
    letters: list[desk_queries.LetterRow] = field(default_factory=list)
    trail: list[Any] = field(default_factory=list)
    staff_names: list[str] = field(default_factory=list)
    identity: IdentitySummary | None = None
    identity_events: list[str] = field(default_factory=list)
    #: Acting for someone: the represented person (as the mail names them) and the
    #: authority documents that came with the request.
    representation: str | None = None
    authority_documents: list[str] = field(default_factory=list)


def _parse(row: InboundMessage) -> ParsedMessage | None:
    try:
        return parse_message(row.raw)
    except MalformedMessage:
        return None


def _attachments(parsed: ParsedMessage) -> list[AttachmentInfo]:
    out = []
    for i, att in enumerate(parsed.attachments):
        ctype = att.content_type.lower()
        inline = ctype in present.INLINE_TYPES
        kind = "pdf" if ctype == "application/pdf" else "image" if inline else "file"
        out.append(AttachmentInfo(i, att.filename or f"attachment-{i + 1}", ctype,
                                  len(att.data), inline, kind))
    return out


def _mail(row: InboundMessage, parsed: ParsedMessage | None, settings: Any, tz: str
          ) -> MailView:
    if row.purged_at is not None:  # retention or an erasure emptied it (storage/purge.py)
        return MailView(row.id or 0, present.local(row.received_at, tz), row.channel, "", "",
                        f"(purged on {present.local(row.purged_at, tz)}: only its date and "
                        "state are kept)", False, [], [], [])
    if parsed is None:
        return MailView(row.id or 0, present.local(row.received_at, tz), row.channel, "", "",
                        "(this message could not be read as a mail)", False, [], [], [])
    domain = parsed.from_address.rpartition("@")[2]
    # The pipeline's own reading of the headers (RFC 8601: our servers' verdict only).
    auth = authenticate_sender(parsed, domain, identity_policy(settings), raw=None,
                               via_receiver=row.channel in ("smtp", "lmtp")) if domain else None
    return MailView(
        inbound_id=row.id or 0, received_at=present.local(row.received_at, tz),
        channel=row.channel, sender=parsed.from_address, subject=parsed.subject,
        text=parsed.text, had_html=parsed.html is not None,
        attachments=_attachments(parsed), auth=list(auth.reasons) if auth else [],
        defects=list(parsed.defects)[:10])


def _challenges(session: Session, case: Case, tz: str) -> list[dict[str, str]]:
    out = []
    for ch in desk_queries.case_challenges(session, case.id):
        customer = session.get(Customer, ch.customer_id)
        held = ch.code_hash == HELD  # waits for the hourly letter; it has no code of its own
        answered = present.local(ch.consumed_at, tz) if ch.consumed_at else ""
        out.append({
            "sent": (f"queued {present.local(ch.created_at, tz)} for the hourly letter" if held
                     else present.local(ch.created_at, tz)),
            "to": challenge_recipient(customer) if customer else "",
            "expires": present.local(ch.expires_at, tz),
            "answered": f"superseded at {answered}" if held and answered
            else answered,
            "attempts": f"{ch.attempts} of {ch.max_attempts}",
        })
    return out


def _candidates(session: Session, parsed: list[ParsedMessage]) -> list[Customer]:
    found: dict[int, Customer] = {}
    for msg in parsed:
        keys = candidate_keys(msg.text, (), sender=msg.from_address)
        for c in [*customers_by_email(session, msg.from_address),
                  *find_candidates(session, keys)]:
            if c.id is not None:
                found[c.id] = c
    return list(found.values())


def load(db: Database, settings: Any, member: Member, case_id: str,
         now: datetime | None = None) -> CasePage | None:
    """The page for ``case_id`` (None if there is no such case); the look is audited."""
    tz = settings.organisation.timezone
    now = now or datetime.now(UTC)
    personal = present.sees_personal_data(member.role)
    # Read (and parse the mail) without holding a write lock; then audit the look in a short
    # transaction of its own. If the audit entry cannot be written, the page is not shown.
    with db.read_session() as session:
        case = store.get_case(session, case_id)
        if case is None:
            return None
        trail = store.case_audit_trail(session, case.id)
        identity = identity_summary(session, case, trail)
        customer = (session.get(Customer, identity.customer_id) if identity.customer_id
                    else None)
        clock = present.DueClock(present.local_day(now, tz))
        due = engine.effective_due(case)
        page = CasePage(
            case=case, role=member.role, personal=personal,
            requester=present.requester(case.requester, member.role), customer=customer,
            due=due.isoformat(), due_state=clock.state(due) if engine.is_open(case) else "closed",
            days_left=clock.days_left(due) if engine.is_open(case) else None,
            classification=dict(case.details.get("classification") or {}),
            challenges=_challenges(session, case, tz),
            letters=desk_queries.case_letters(session, case.id),
            trail=trail, identity=identity, identity_events=identity.event_lines(tz),
            representation=representation.status_line(
                case, person=present.person(representation.represented_person(case)
                                            or "another person", member.role),
                representative=present.requester(case.on_behalf_of or "", member.role)),
            authority_documents=[str(d.get("name")) for d in representation.documents(case)],
        )
        if personal:
            rows = desk_queries.case_messages(session, case.id)
            parsed = [(row, _parse(row)) for row in rows]
            page.mails = [_mail(row, p, settings, tz) for row, p in parsed]
            page.candidates = _candidates(session, [p for _, p in parsed if p is not None])
            if customer is not None and customer.id is not None:
                page.holds = list(desk_queries.holds(session, customer.id))
                page.unpaid = list(desk_queries.unpaid_invoices(session, customer.id))
        configured = [s.name for s in settings.chat.staff]
        page.staff_names = sorted({*configured, *desk_queries.active_staff_names(session)})
    with db.session() as session:
        audit.record(session, member.actor, "case.viewed", case_id=case.id,
                     customer_number=customer.customer_number if customer else None,
                     details={"channel": "web", "personal_data": personal,
                              "messages": len(page.mails)}, at=now)
    return page


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    content_type: str
    data: bytes


def load_attachment(db: Database, member: Member, case_id: str, inbound_id: int, index: int,
                    *, inline: bool) -> AttachmentFile | None:
    """One attachment of one of the case's mails, audited as a look at personal data."""
    with db.read_session() as session:
        row = desk_queries.case_message(session, case_id, inbound_id)
        parsed = _parse(row) if row is not None else None
        if parsed is None or not 0 <= index < len(parsed.attachments):
            return None
        case = store.get_case(session, case_id)
        customer = session.get(Customer, case.customer_id) if case and case.customer_id else None
    att = parsed.attachments[index]
    with db.session() as session:
        audit.record(session, member.actor, "case.attachment_viewed", case_id=case_id,
                     customer_number=customer.customer_number if customer else None,
                     details={"channel": "web", "inbound_id": inbound_id, "index": index,
                              "inline": inline, "bytes": len(att.data)})
    return AttachmentFile(att.filename, att.content_type.lower(), att.data)
