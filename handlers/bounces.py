"""Bounces: a letter the relay accepted and the far end returned is not "sent".

Why this matters: the GDPR answer is owed to the requester, not to our relay. A delivery
status notification (RFC 3464, ``multipart/report; report-type=delivery-status``) or a
home-made bounce that quotes our Message-ID says the requester got nothing. Then:

* the outbox row becomes ``bounced``, with the RFC 3463 status and the remote diagnostic;
* the case gets the reason "the letter of DATE to the registered address bounced (5.1.1)";
* a case whose final letter bounced (the case was done or refused) goes to
  ``delivery_failed``: open again, so deadline reminders continue until staff act;
* staff are alerted in the chat at once;
* a permanent bounce (5.x.x) of the registered address marks the customer's email as
  undeliverable for staff.

A bounce is never answered (triage ignores robots); this only reads it. It is trusted as far
as it names one of OUR Message-IDs (random, never shown to outsiders except the recipient) and
arrived as a robot's mail; the worst a forged one can do is ask staff to look at a case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser

from sqlmodel import Session

from handlers import deadlines
from handlers.intake import Context, Stop, Work
from mailformat import clean_message_id
from storage import audit, chat_outbox, outbox
from storage import cases as case_store
from storage.models import (
    Case,
    CaseStatus,
    Customer,
    InboundState,
    OutboundMessage,
    OutboundState,
)

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45]\d\d)[ -]")
MAX_DIAGNOSTIC = 1000
#: Letters that answer a case: when one of them bounces, the case was not answered.
NOT_FINAL = frozenset({"receipt", "identity_challenge", "identity_reminder"})


@dataclass(frozen=True)
class Bounce:
    """What a bounce says: which of our letters failed, with which status and words."""

    message_ids: list[str] = field(default_factory=list)
    status: str = "5.0.0"
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")


def _clean(text: str, limit: int = MAX_DIAGNOSTIC) -> str:
    return " ".join(text.split())[:limit]


def _our_ids(text: str, domain: str) -> list[str]:
    pattern = re.compile(r"<dsrbot\.[A-Za-z0-9._-]{1,80}@" + re.escape(domain) + ">", re.I)
    return list(dict.fromkeys(m.group(0) for m in pattern.finditer(text)))


def _original_ids(report: Message) -> list[str]:
    """Message-IDs of the returned message (text/rfc822-headers or message/rfc822 part)."""
    found: list[str] = []
    for part in report.walk():
        kind = part.get_content_type()
        headers: Message | None = None
        if kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            headers = HeaderParser(policy=policy.compat32).parsestr(text)
        elif kind == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            headers = first if isinstance(first, Message) else None
        if headers is not None:
            value = clean_message_id(str(headers.get("Message-ID", "")))
            if value:
                found.append(value)
    return found


def _recipient_blocks(report: Message) -> list[Message]:
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            return [b for b in blocks[1:] if isinstance(b, Message)] if isinstance(
                blocks, list) else []
    return []


def parse_bounce(raw: bytes, domain: str) -> Bounce | None:
    """The bounce in ``raw``, or None when it reports no failure of a letter of ours.

    A DSN is read with the standard library (``message/delivery-status`` parses into header
    blocks); only recipients with ``Action: failed`` count (``delayed`` is still trying). Any
    other mail counts when it quotes one of our Message-IDs; its status is the first RFC 3463
    code in it, else derived from an SMTP reply code, else ``5.0.0``.
    """
    message = message_from_bytes(raw, policy=policy.compat32)
    text = raw.decode("utf-8", "replace")
    if (message.get_content_type() == "multipart/report"
            and str(message.get_param("report-type", "")).lower() == "delivery-status"):
        failed = [b for b in _recipient_blocks(message)
                  if str(b.get("Action", "")).strip().lower() == "failed"]
        if not failed:
            return None
        ids = [i for i in _original_ids(message) if i.lower().endswith(f"@{domain}>".lower())]
        ids = ids or _our_ids(text, domain)
        if not ids:
            return None
        status = _STATUS.search(str(failed[0].get("Status", "")))
        return Bounce(ids, status.group(0) if status else "5.0.0",
                      _clean(str(failed[0].get("Diagnostic-Code", "")).partition(";")[2]
                             or str(failed[0].get("Diagnostic-Code", ""))))
    ids = _our_ids(text, domain)
    if not ids:
        return None
    body = _body_text(message)
    status = _STATUS.search(body)
    code = _SMTP_CODE.search(body)
    value = status.group(0) if status else (f"{code.group(1)[0]}.0.0" if code else "5.0.0")
    line = next((ln for ln in body.splitlines() if (status and status.group(0) in ln)
                 or (code and code.group(1) in ln)), "")
    return Bounce(ids, value, _clean(line))


def _body_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def bounce_outcome(work: Work, ctx: Context, session: Session, stop: Stop | None
                   ) -> Stop | None:
    """Outcome step: a robot's mail that returns one of our letters is recorded, not answered."""
    if stop is None or stop.state != InboundState.IGNORED:
        return stop
    bounce = parse_bounce(work.raw, ctx.org.domain)
    if bounce is None:
        return stop
    for row in outbox.by_message_id(session, bounce.message_ids):
        assert row.id is not None
        work.bounce_of = row.id
        if record_bounce(session, row, bounce, ctx):
            work.reasons.append(f"bounce of our letter (outbox #{row.id}, {bounce.status})")
    return stop


def record_bounce(session: Session, row: OutboundMessage, bounce: Bounce, ctx: Context) -> bool:
    """Mark ``row`` bounced and tell the case, staff and the register; False if already done."""
    if row.state == OutboundState.BOUNCED:
        return False
    row.state = OutboundState.BOUNCED.value
    row.bounce_status, row.bounce_diagnostic = bounce.status, bounce.diagnostic or None
    row.bounced_at = ctx.now
    session.add(row)
    session.flush()
    audit.record(session, audit.BOT_ACTOR, "outbox.bounced", case_id=row.case_id, details={
        "outbound_id": row.id, "kind": row.kind, "status": bounce.status})
    case = case_store.get_case(session, row.case_id, for_update=True) if row.case_id else None
    customer = session.get(Customer, case.customer_id) if case and case.customer_id else None
    registered = customer is not None and customer.email_normalised == row.recipient.lower()
    reopened = False
    if case is not None:
        reopened = _tell_case(session, case, row, bounce, ctx, registered=registered)
    if customer is not None and registered and bounce.permanent:
        customer.email_undeliverable_at = ctx.now
        customer.email_undeliverable_status = bounce.status
        session.add(customer)
        audit.record(session, audit.BOT_ACTOR, "register.email_undeliverable",
                     case_id=row.case_id, details={"customer_id": customer.id,
                                                   "status": bounce.status})
    chat_outbox.notify_staff(
        session, f"Letter {row.kind} (outbox #{row.id})"
        + (f" of case {row.case_id}" if row.case_id else "")
        + f" bounced ({bounce.status}): the recipient did not get it."
        + (f" {row.case_id} is open again as delivery_failed: once the registered address"
           " is corrected, /resend it; or deliver it another way (post) and say /delivered."
           if reopened else " Check the address."),
        case_id=row.case_id, now=ctx.now, bounce_status=bounce.status)
    return True


def _tell_case(session: Session, case: Case, row: OutboundMessage, bounce: Bounce,
               ctx: Context, *, registered: bool) -> bool:
    """Add the reason; reopen a done or refused case whose answer bounced. True if reopened."""
    sent: datetime = row.sent_at or row.created_at
    day = deadlines.local_date(sent, ctx.org.tz).isoformat()
    whose = "registered" if registered else "requester's"
    reason = f"the letter of {day} to the {whose} address bounced ({bounce.status})"
    final = (case.status in (CaseStatus.DONE, CaseStatus.REFUSED)
             and row.kind not in NOT_FINAL)
    if final:
        case_store.transition(session, case, CaseStatus.DELIVERY_FAILED,
                              actor=audit.BOT_ACTOR, reasons=[reason])
        return True
    case.reasons = [*case.reasons, reason]
    session.add(case)
    session.flush()
    return False
