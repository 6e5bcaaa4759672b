"""A home for every mail: what reaches no case is forwarded to customer service, once.

Why: with the IMAP watcher, mail that is not a request stays in INBOX where people read it.
When an MTA delivers info@ only to us (SMTP/LMTP), that mail would exist only in our
database. So it is forwarded to ``mail.receiver.forward_other_to``, written to the outbox in
the message's own transaction (it goes out if and only if the outcome committed) under the
unique key ``forward:<inbound id>``: processing the message again, after a crash or on another
instance, finds the key and writes nothing.

The format: a new mail from us with the original attached whole as ``message/rfc822``
(RFC 2046 5.2.1), headers and all, rather than a resend with the original headers: a resend
would carry someone else's From through our relay (SPF/DMARC would fail it), while the
attachment keeps every header intact for customer service to read and answer.

Never forwarded: mail that joined a case (staff see it there), our canary probes, bounces we
matched to our letters, mail from our own addresses (a forward must never come back as new
mail), and robots' mail unless ``forward_robots``.
"""

from __future__ import annotations

from sqlmodel import Session

from handlers.intake import Context, Stop, Work
from mailformat import OutAttachment, UnsafeValue, clean_subject
from storage import outbox
from storage.models import InboundState

KIND = "forward"
#: Final states whose mail no case holds: left for people, held for staff, or broken.
_FOR_PEOPLE = frozenset({InboundState.PROCESSED, InboundState.HELD, InboundState.QUARANTINED})


def forward_key(inbound_id: int) -> str:
    return f"forward:{inbound_id}"


def _should_forward(work: Work, ctx: Context, state: InboundState) -> bool:
    policy = ctx.policy.forward
    if not policy.to or work.channel not in policy.channels or work.case_id is not None:
        return False
    if work.bounce_of is not None or state == InboundState.CANARY:
        return False
    if work.parsed is not None:
        ours = {*ctx.policy.org_addresses, ctx.org.contact_email.lower()}
        if work.parsed.from_address.lower() in ours:
            return False
    return state in _FOR_PEOPLE or (state == InboundState.IGNORED and policy.robots)


def _body(work: Work, state: InboundState) -> str:
    why = {InboundState.PROCESSED: "it is not a data-protection request",
           InboundState.HELD: "it is held for staff to look at",
           InboundState.QUARANTINED: "it could not be read automatically",
           InboundState.IGNORED: "it was sent by a machine (auto-reply, list or notice)"}
    reasons = "\n".join(f"- {r}" for r in work.reasons) or "- (none)"
    return (f"dsrbot received this mail (inbound #{work.inbound_id}) and forwards it because "
            f"{why.get(state, 'no case holds it')}. The original is attached as it arrived.\n"
            f"Nobody has answered it.\n\nWhat dsrbot noted:\n{reasons}\n")


def forward_outcome(work: Work, ctx: Context, session: Session, stop: Stop | None
                    ) -> Stop | None:
    """Outcome step (runs for every message): forward it if no case and no person has it."""
    state = stop.state if stop else InboundState.PROCESSED
    if not _should_forward(work, ctx, state):
        return stop
    key = forward_key(work.inbound_id)
    if outbox.find_by_key(session, key) is not None:
        return stop
    subject = work.parsed.subject if work.parsed is not None else ""
    try:
        outbox.enqueue(
            session, kind=KIND, recipient=ctx.policy.forward.to,
            subject=clean_subject(f"Fwd: {subject}" if subject else "Fwd: (no subject)"),
            body_text=_body(work, state), domain=ctx.org.domain, dedupe_key=key,
            inbound_id=work.inbound_id,
            attachments=[OutAttachment("original.eml", "message/rfc822", work.raw)])
    except UnsafeValue:
        work.reasons.append("could not be forwarded to customer service (bad address)")
        return stop
    work.reasons.append("forwarded to customer service")
    return stop
