"""The mailbox canary: a probe mailed to ourselves through the real outgoing path, expected
back through the real way in (IMAP or our receiver).

Why: the Ombudsman ordered a company whose privacy mailbox silently stopped forwarding for
seven months to test the channel regularly. A dead MX, a broken forwarding rule or a wrong
IMAP password looks, from inside, exactly like a quiet day; only mail that makes the whole trip
proves the mailbox alive.

Recognition: the probe carries a random token (``X-Dsrbot-Canary``); we store only its hash.
A message is a probe only when its token's hash is one we stored: the header alone is never
trusted, so an outsider cannot make their mail disappear by adding it. A recognised probe ends
in state ``canary``: never a case, never answered, never forwarded, and the IMAP watcher
deletes it from the mailbox.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import Session

from handlers.intake import Context, Stop, Work
from handlers.policy import HealthPolicy
from mailformat import CANARY_HEADER
from storage import audit, outbox
from storage import health as store
from storage.models import InboundState

KIND = "canary"
SUBJECT = "dsrbot mailbox canary (automatic test, removed automatically)"
BODY = ("This is an automatic test of the privacy mailbox by dsrbot. It proves that mail sent "
        "to this address arrives. dsrbot removes it; please do not answer it.\n")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("ascii", "replace")).hexdigest()


def probe_token(work: Work) -> str | None:
    if work.parsed is None:
        return None
    value = work.parsed.header(CANARY_HEADER)
    return value.strip() if value else None


def probe_stage(work: Work, ctx: Context) -> Stop | None:
    """CPU stage before triage: mail from our own address carrying a probe token goes no
    further than the outcome step, which checks the token against the database. Mail from our
    own address is never answered anyway (triage), so this trusts the header no further."""
    token = probe_token(work)
    if token is None or work.parsed is None:
        return None
    ours = {*ctx.policy.org_addresses, ctx.org.contact_email.lower()}
    if work.parsed.from_address.lower() in ours:
        work.reasons.append("sent from our own address, with a canary header")
        return Stop(InboundState.IGNORED)
    return None


def probe_outcome(work: Work, ctx: Context, session: Session, stop: Stop | None
                  ) -> Stop | None:
    """Outcome step: our own probe is recorded (round trip) and ends as ``canary``."""
    token = probe_token(work)
    if token is None:
        return stop
    probe = store.probe_by_token_hash(session, token_hash(token))
    if probe is None:
        return stop  # not ours: the header means nothing
    work.probe_id = probe.id
    if probe.arrived_at is None:
        probe.arrived_at = ctx.now
        probe.round_trip_seconds = round((ctx.now - _aware(probe.created_at)).total_seconds(), 3)
        probe.inbound_id = work.inbound_id
        session.add(probe)
        session.flush()
        work.reasons.append(f"our mailbox canary probe (round trip "
                            f"{probe.round_trip_seconds:.1f} s)")
    else:
        work.reasons.append("our mailbox canary probe (another copy)")
    return Stop(InboundState.CANARY)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def send_probe(session: Session, policy: HealthPolicy, now: datetime) -> bool:
    """Mail this interval's probe through the outbox; False when it was sent already."""
    if policy.canary_interval is None:
        return False
    slot = int(now.timestamp() // policy.canary_interval.total_seconds())
    token = secrets.token_urlsafe(24)
    probe = store.add_probe(session, slot=slot, token_hash=token_hash(token), now=now)
    if probe is None:
        return False
    row = outbox.enqueue(session, kind=KIND, recipient=policy.probe_to, subject=SUBJECT,
                         body_text=BODY, domain=policy.org.domain, probe_token=token, now=now)
    probe.outbound_id = row.id
    session.add(probe)
    session.flush()
    audit.record(session, audit.BOT_ACTOR, "health.canary_sent",
                 details={"probe_id": probe.id, "outbound_id": row.id})
    return True
