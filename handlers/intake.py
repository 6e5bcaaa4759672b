"""The stages of the inbound pipeline (the table that orders them is ``bot/pipeline.py``).

Each stage takes the message's :class:`Work` and returns ``None`` to go on or a :class:`Stop`
with the inbound row's final state. Reasons are appended for staff; they never contain personal
data, since they also reach logs and the chat.

Product rules that live here, in one place:
* robots (auto-replies, bounces, lists, our own mail) are never answered (triage);
* mail that is not a request stays with customer service: no case, no reply;
* a follow-up joins its case; a confirmation code in it verifies the requester;
* a new request gets one receipt, in its language, to the sender; personal data goes only to
  the registered address of a verified customer, and the register changes only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from sqlmodel import Session

from handlers import (
    bans_at_once,
    case_details,
    confirmation,
    confirmation_letters,
    earlier_request,
    representation,
)
from handlers import cases as engine
from handlers.clock import FixedClock
from handlers.execute import propose_all
from handlers.identity import (
    CandidateKeys,
    IdentityAssessment,
    assess_identity,
    candidate_keys,
    may_change_register,
)
from handlers.identity.names import named_customers
from handlers.intake_work import Context, Stop, Work
from handlers.parse import MalformedMessage, parse_message
from handlers.rights.base import send_letter
from handlers.signatures import binding, check_signatures, trust_from_settings
from handlers.triage import Triage, apply_rate_limit, triage
from mailformat.cleaning import reachable_address, writable_address
from nlp_models import classify
from nlp_models.labels import REQUEST_LABELS
from nlp_models.preprocess import MAX_BODY_CHARS
from storage import cases as case_store
from storage import inbox, used_signatures
from storage import register as reg
from storage.candidates import find_candidates, remember_candidates
from storage.models import Case, CaseStatus, Customer, InboundState

#: Identity looks for customer numbers, phones and addresses this far into the text (the
#: classifier reads as far): what a requester gives to identify themselves comes first, and a
#: bounded scan keeps a 40 MB mail from holding the transaction.
IDENTITY_TEXT_CHARS = MAX_BODY_CHARS


# --- stages without the database -------------------------------------------------------------


def parse_stage(work: Work, ctx: Context) -> Stop | None:
    try:
        work.parsed = parse_message(work.raw)
    except MalformedMessage as exc:
        work.reasons.append(f"malformed mail: {exc.reason}")
        return Stop(InboundState.QUARANTINED)
    return None


def triage_stage(work: Work, ctx: Context) -> Stop | None:
    verdict = triage(work.message, envelope_from=work.envelope_from,
                     org_addresses=ctx.policy.org_addresses)
    work.reasons.extend(verdict.reasons)
    if verdict.verdict == "ignore":
        return Stop(InboundState.IGNORED)
    if verdict.verdict == "quarantine":
        return Stop(InboundState.QUARANTINED)
    return None


def classify_stage(work: Work, ctx: Context) -> Stop | None:
    work.classification = c = classify(work.message.subject, work.message.text,
                                       from_display=work.message.from_display)
    top = max(c.scores.values(), default=0.0)
    work.reasons.append(
        f"classified as {', '.join(c.labels)} (top score {top:.2f}, language {c.language})")
    if len(work.message.text) > MAX_BODY_CHARS:
        work.reasons.append(f"text cut: classified on its first {MAX_BODY_CHARS:,} characters")
    if c.needs_review:
        work.reasons.append("classifier unsure: staff to review")
    return None


# --- stages in the message's transaction -----------------------------------------------------


def throttle_stage(work: Work, ctx: Context, session: Session) -> Stop | None:
    """A sender over the per-sender limit is held for staff (a flood never makes cases)."""
    policy = ctx.policy
    since = work.received_at - timedelta(minutes=policy.rate_limit_window_minutes)
    count = inbox.recent_count(session, work.message.from_address, since, work.received_at)
    verdict = apply_rate_limit(Triage("process"), recent=count, limit=policy.rate_limit_per_sender)
    if verdict.verdict == "held":
        if confirmation.answers_waiting_confirmation(session, work.message):
            # Someone flooding us in the owner's name must not hold her own reply.
            work.reasons.append("over the sender rate limit, but answers a waiting "
                                "confirmation: not held")
            return None
        work.reasons.extend(verdict.reasons)
        return Stop(InboundState.HELD)
    return None


def followup_stage(work: Work, ctx: Context, session: Session) -> Stop | None:
    """A reply in a case's thread joins that case (and may confirm the requester's identity)."""
    msg = work.message
    if work.assessment is None:  # identify_stage found that no case can take this mail
        return None
    # A case id typed in a subject joins only when this mail proves the sender's address.
    case = engine.find_case_for_followup(
        session, in_reply_to=msg.in_reply_to, references=msg.references, subject=msg.subject,
        sender=msg.from_address, sender_verified=may_change_register(work.assessment),
    )
    if case is None:
        # A code (or "not me") from the registered address, without our thread.
        case = confirmation.case_for_code(session, msg)
    claim, named_only = _earlier(work), False
    if case is None and claim is not None:
        # A reminder naming its case: joined to be recorded, never to confirm anything.
        case = engine.case_named_by_reminder(session, subject=msg.subject, text=msg.text,
                                             sender=msg.from_address)
        named_only = case is not None
    if case is None:
        return None
    if not engine.is_open(case):
        # A reply to a closed case may be a new request ("now delete my data too"): it goes
        # through as new mail, never silently into a case nobody looks at any more.
        work.reasons.append(f"reply to closed case {case.id}: handled as a new message")
        return None
    work.case_id = case.id
    engine.attach_followup(session, case, message_id=msg.message_id,
                           inbound_message_id=work.inbound_id,
                           reasons=["reminder naming the case" if named_only
                                    else "follow-up by mail"])
    work.reasons.append(f"{'reminder naming' if named_only else 'follow-up to'} {case.id}")
    if claim is not None:
        earlier_request.record_claim(session, case, claim)
    representation.add_documents(session, case, sender=msg.from_address,
                                 documents=msg.attachments)
    if case.status == CaseStatus.AWAITING_IDENTITY and not named_only:
        outcome = confirmation.handle_reply(session, ctx.org, case, msg, work.assessment,
                                            ctx.now)
        work.reasons.extend(outcome.reasons)
        if outcome.verified:
            _advance_and_act(work, ctx, session, case)
    return Stop(InboundState.PROCESSED)


def request_stage(work: Work, ctx: Context, session: Session) -> Stop | None:
    """Mail that asks for none of the rights belongs to people: leave it, answer nothing."""
    c = work.result
    if [label for label in c.labels if label in REQUEST_LABELS] or _reminder_rights(work):
        return None
    if c.needs_review:
        work.reasons.append("possibly a request: held for staff to look at")
        return Stop(InboundState.HELD)
    work.reasons.append("not a data-protection request: left for customer service")
    return Stop(InboundState.PROCESSED)


def identify_stage(work: Work, ctx: Context, session: Session) -> Stop | None:
    """Who sends and whom the mail names; skipped (``assessment`` stays None) for mail that
    asks for nothing and can join no case: nothing reads those reasons for it."""
    if not _may_need_identity(work, session):
        return None
    msg = work.message
    bounded = msg
    if len(msg.text) > IDENTITY_TEXT_CHARS:
        bounded = replace(msg, text=msg.text[:IDENTITY_TEXT_CHARS])
        work.reasons.append(f"text cut: identity searched its first {IDENTITY_TEXT_CHARS:,} "
                            "characters for customer numbers and addresses")
    # Read without flushing what the batch's earlier messages wrote: intake never adds a
    # customer nor changes what these queries match on (address, number, phone, name), so
    # the rows found are the same, and the batch's rows are written together at its end
    # instead of a flush (a statement per row) before every request.
    if work.candidate_keys is None:
        work.candidate_keys = _keys(work, bounded.text)
    with session.no_autoflush:
        registered = list(reg.customers_by_email(session, msg.from_address))
        # Numbers, phones, addresses, and names in any inflection ("Matti Virtasen"): third
        # parties.
        candidates = list(find_candidates(session, work.candidate_keys))
        candidates += [c for c in named_customers(session, bounded.text)
                       if all(c.id != known.id for known in candidates)]
    identity = ctx.policy.identity
    # A valid signature counts only over this request, recently, and for one case only.
    asks = any(label in REQUEST_LABELS for label in work.result.labels)
    work.signature, work.signature_fingerprint = binding.for_this_request(
        check_signatures(msg, trust_from_settings(identity, base_dir=identity.base_dir)),
        text=msg.text, body_is_request=asks, received_at=work.received_at,
        max_age_days=identity.signature_max_age_days,
        used_by=lambda fingerprint: used_signatures.used_by(session, fingerprint))
    # No DNS function: direct DKIM checks would reach the network; trusted
    # Authentication-Results from our own servers carry the verdict instead.
    work.assessment = assess_identity(
        bounded, registered, candidates, identity, raw=work.raw, signature=work.signature,
        protected_addresses=ctx.policy.org_addresses,
        via_receiver=work.channel in ("smtp", "lmtp"))
    work.reasons.extend(work.assessment.reasons)
    work.reasons.extend(work.signature.reasons)
    return None


def case_stage(work: Work, ctx: Context, session: Session) -> Stop | None:
    msg, c = work.message, work.result
    assert work.assessment is not None and work.signature is not None
    types = [label for label in c.labels if label in REQUEST_LABELS] or _reminder_rights(work)
    case = engine.open_case(
        session, types=types, requester=msg.from_address, language=c.language,
        received_at=work.received_at, channel=work.channel, customer_id=None,
        reasons=work.reasons, inbound_message_id=work.inbound_id, thread_ids=[msg.message_id],
        tz=ctx.org.tz,
    )
    work.case_id = case.id
    case.details = {**case.details, "classification": case_details.classification(c),
                    "subject": confirmation_letters.request_subject(msg.subject),
                    "extracted": case_details.extracted(c),
                    "identity": {"level": work.assessment.level,
                                 "candidates": len(work.assessment.candidate_ids),
                                 "candidate_ids": list(work.assessment.candidate_ids),
                                 "mentions_other_customer": _mentions_other(work.assessment)},
                    "signature": {"state": work.signature.state}}
    if (claim := _earlier(work)) is not None:
        earlier_request.record_claim(session, case, claim)
    if (behalf := c.on_behalf_of) is not None:
        # The data subject is someone else: the sender's own identity proves nothing here.
        representation.flag(session, case, representative=msg.from_address,
                            person=behalf.person, words=behalf.text,
                            documents=msg.attachments)
    verified = may_change_register(work.assessment) and behalf is None
    if verified and work.signature.state == "valid" and work.signature_fingerprint:
        used_signatures.record(session, work.signature_fingerprint, case.id, ctx.now)
    engine.record_identity(
        session, case, verification_level=("verified" if verified else "none" if behalf
                                           else work.assessment.level),
        signature_state=work.signature.state,
        customer_id=work.assessment.customer_id if verified else None, now=ctx.now,
    )
    if reachable_address(msg.from_address) and not writable_address(msg.from_address):
        # RFC 6531: a non-ASCII local part needs SMTPUTF8, which our outgoing mail does not
        # rely on. The case stands (the register cannot hold such an address); staff answer.
        work.reasons.append("no receipt by mail: the sender's address is internationalised "
                            "(non-ASCII), which outgoing mail cannot address; staff to reply")
    elif reachable_address(msg.from_address):
        # The receipt reveals nothing personal, so it goes to the sender, whoever that is.
        # The day of receipt as the letter prints it (in the organisation's zone): with the
        # date, not the moment, one rendering of the receipt serves the day's cases.
        received_on = work.received_at.astimezone(ctx.org.timezone).date()
        send_letter(session, ctx.org, case, kind="receipt", recipient=msg.from_address,
                    context={"received_at": received_on, "due_date": case.due_date,
                             "types": types})
    return None


def decide_stage(work: Work, ctx: Context, session: Session) -> Stop | None:
    assert work.case_id is not None and work.assessment is not None
    case = case_store.case_by_id(session, work.case_id)
    assert case is not None
    # For a representative, the sender's register entry (if any) is not the data subject's.
    owner_id = None if case.on_behalf_of else work.assessment.customer_id
    customer = session.get(Customer, owner_id) if owner_id is not None else None
    if (customer is not None and bans_at_once.bans_in(case.types)
            and not _mentions_other(work.assessment)):
        # Art. 21(3): a ban from the registered address applies now, before any code.
        applied = bans_at_once.apply_from_registered_address(session, ctx.org, case, customer,
                                                             ctx.now)
        work.reasons.append(f"applied at once from the registered address: {', '.join(applied)}")
    if (engine.is_open(case) and case.verification_level != "verified"
            and customer is not None and customer.email):
        # One letter per customer per hour lists every waiting request with its own code,
        # so a flood of forgeries never locks the owner out of confirming her own.
        why = confirmation_letters.request_confirmation(
            session, ctx.org, ctx.policy.identity, case, customer, ctx.now)
        work.reasons.append(why)
        case.reasons = [*case.reasons, why]
    _advance_and_act(work, ctx, session, case)
    return None


# --- shared steps ----------------------------------------------------------------------------


def remember_register(session: Session, works: Sequence[Work]) -> None:
    """The identify stage's register look-ups for a whole batch, read in two queries before
    its stages run instead of two per request (answered from the transaction's memo until
    something writes to the register): every sender's address, and the candidate keys of
    every mail that asks for something (found here once, kept on its ``Work``)."""
    reg.remember_customers_by_email(session, [w.message.from_address for w in works])
    asking = [w for w in works if _asks(w)]
    for w in asking:
        if w.candidate_keys is None:
            w.candidate_keys = _keys(w, w.message.text[:IDENTITY_TEXT_CHARS])
    remember_candidates(session, [w.candidate_keys for w in asking if w.candidate_keys])


def _asks(work: Work) -> bool:
    """A request, a mail held for staff, or a reminder of an earlier request."""
    c = work.result
    return (c.needs_review or any(lbl in REQUEST_LABELS for lbl in c.labels)
            or _earlier(work) is not None)


def _may_need_identity(work: Work, session: Session) -> bool:
    """A request, a mail held for staff, or one :func:`followup_stage` could join to a case:
    its checks, with the sender taken as verified (a superset). No query without thread ids,
    a case id, a code, a "not me" or a reminder."""
    msg = work.message
    if _asks(work):
        return True
    if engine.find_case_for_followup(
            session, in_reply_to=msg.in_reply_to, references=msg.references,
            subject=msg.subject, sender=msg.from_address, sender_verified=True) is not None:
        return True
    return confirmation.case_for_code(session, msg) is not None


def _keys(work: Work, text: str) -> CandidateKeys:
    """Register pointers in the mail: the identity module's own finds plus the classifier's."""
    entities = work.result.entities
    keys = candidate_keys(text, entities, sender=work.message.from_address)
    numbers = [str(e.value) for e in entities if e.label == "customer_number" and e.value]
    phones = [str(e.value) for e in entities if e.label == "phone" and e.value]
    return replace(keys,
                   customer_numbers=list(dict.fromkeys([*keys.customer_numbers, *numbers])),
                   phones=list(dict.fromkeys([*keys.phones, *phones])))


def _earlier(work: Work) -> earlier_request.EarlierRequest | None:
    """A reminder's claim of an earlier request (the finder is swappable for the model's)."""
    return earlier_request.find_earlier_request(work.message.text,
                                                received_on=work.received_at.date())


def _reminder_rights(work: Work) -> list[str]:
    """The rights a reminder names by article, when the classifier saw no request in it."""
    claim = _earlier(work)
    return list(claim.rights) if claim is not None else []


def _mentions_other(assessment: IdentityAssessment) -> bool:
    """The mail points at a register entry other than the sender's own (a third party)."""
    return any(cid != assessment.customer_id for cid in assessment.candidate_ids)


def _advance_and_act(work: Work, ctx: Context, session: Session, case: Case) -> None:
    """Move the case on; an approved case is carried out by ``handlers.execute`` right after.

    Auto-approval applies only when the classifier was sure and no right's own proposal asks
    for staff (an erasure with holds, an objection, a rectification that needs checking).
    """
    proposals = propose_all(session, case, ctx.org, FixedClock(ctx.now), ctx.policy.rights)
    staff_needed = [p.right for p in proposals.values() if p.needs_staff]
    case.details = {**case.details,
                    "proposals": {r: p.staff_summary() for r, p in proposals.items()}}
    needs_review = bool(case.details.get("classification", {}).get("needs_review"))
    # A colleague asking to erase someone must never end up erasing their own record.
    third_party = bool(case.details.get("identity", {}).get("mentions_other_customer"))
    represented = bool(case.on_behalf_of)
    # A ban applied when the case opened is done: it never needs staff later.
    done = tuple(case.applied_at_once)
    auto = (() if needs_review or staff_needed or third_party or represented
            else (*ctx.policy.auto_approve, *done))
    why = ([f"staff to decide: {', '.join(sorted(staff_needed))}"] if staff_needed else [])
    if third_party:
        why.append("the mail names another customer in the register: staff to decide")
    if represented:
        why.append("made on behalf of another person: staff to decide")
    decision = engine.advance(session, case, auto_approve=auto, reasons=why,
                              require_signature=ctx.policy.rights.require_signature)
    work.reasons.extend([*why, decision.message])
