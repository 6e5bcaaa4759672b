"""Case messages for the staff chat: the text staff read at a glance, and the buttons they tap.

Why plain text (no Markdown/HTML parse mode): case data contains underscores, asterisks and
angle brackets; one unescaped character makes Telegram reject the whole message. Plain text
cannot fail that way.

Why masking is the default: Telegram is a third party. With ``chat.personal_data = "masked"``
the requester's address, the customer's name and number and any entity the classifier found
are shortened to a hint (``m***@e***.fi``) that lets staff tell cases apart without handing the
data to Telegram; ``"full"`` shows them. Reasons, types, dates and scores are never personal
data (the pipeline writes its reasons that way), so they always show.

Callback data is ``VERB:CASE-ID`` (at most 64 bytes, Telegram's limit); the handler re-checks
everything, so a forged callback can do no more than the button would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.manual_intake import PLACEHOLDER_DOMAIN
from bot.chat.views import CaseView, HistoryItem
from handlers import representation
from handlers.cases.rules import effective_due, is_open
from storage.models import Case, CaseStatus

PersonalData = Literal["masked", "full"]

#: Telegram refuses longer message texts.
MAX_TEXT = 4096
MAX_REASONS = 8
MAX_REASON_CHARS = 200

#: Button verbs, in callback data.
APPROVE, REFUSE, ASK, EXTEND, ASSIGN, DETAILS, BAN = (
    "approve", "refuse", "ask", "extend", "assign", "details", "ban")
VERBS = (APPROVE, REFUSE, ASK, EXTEND, ASSIGN, DETAILS, BAN)
CALLBACK_PATTERN = re.compile(
    r"^(approve|refuse|ask|extend|assign|details|ban):(DSR-\d{4}-\d{4,6})$")
#: Request types staff may apply with one tap ("apply ban"), whoever asked.
BAN_TYPES = frozenset({"marketing_optout", "publication_ban"})

STATUS_LABELS: dict[str, tuple[str, str]] = {
    CaseStatus.RECEIVED: ("🆕", "received"),
    CaseStatus.AWAITING_IDENTITY: ("🔐", "awaiting identity"),
    CaseStatus.AWAITING_APPROVAL: ("🟡", "awaiting approval"),
    CaseStatus.APPROVED: ("✅", "approved"),
    CaseStatus.DONE: ("☑️", "done"),
    CaseStatus.REFUSED: ("⛔", "refused"),
    CaseStatus.WITHDRAWN: ("↩️", "withdrawn"),
    CaseStatus.DELIVERY_FAILED: ("📭", "delivery failed: the answer bounced"),
}


@dataclass(frozen=True)
class Rendered:
    text: str
    keyboard: InlineKeyboardMarkup | None


# --- masking ----------------------------------------------------------------------------------


def mask_word(word: str) -> str:
    return f"{word[0]}***" if word else ""


def mask_email(address: str) -> str:
    """``maija.m@example.fi`` -> ``m***@e***.fi``: enough to tell two cases apart, no more."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return mask_text(address)
    labels = domain.split(".")
    tld = f".{labels[-1]}" if len(labels) > 1 else ""
    return f"{mask_word(local)}@{mask_word(labels[0])}{tld}"


def mask_text(text: str) -> str:
    """Each word cut to its first letter: ``Maija Meikäläinen`` -> ``M*** M***``."""
    return " ".join(mask_word(w) for w in text.split())


def mask_number(number: str) -> str:
    """Only the last two characters: ``100042`` -> ``***42``."""
    return f"***{number[-2:]}" if len(number) > 2 else "***"


def _pd(value: str, mode: PersonalData, masker: Any = mask_text) -> str:
    if not value:
        return ""
    return value if mode == "full" else str(masker(value))


def mask_address(value: str, mode: PersonalData) -> str:
    """A requester: an email address, or whatever the manual intake recorded."""
    if value.lower().endswith("@" + PLACEHOLDER_DOMAIN):
        return "(no email address: came by letter or phone)"
    return _pd(value, mode, mask_email if "@" in value else mask_text)


# --- pieces -----------------------------------------------------------------------------------


def status_label(status: str) -> str:
    icon, label = STATUS_LABELS.get(status, ("•", status.replace("_", " ")))
    return f"{icon} {label}"


def due_phrase(case: Case, today: date) -> str:
    due = effective_due(case)
    text = due.strftime("%d.%m.%Y")
    if case.extended and case.extended_due_date:
        text += f" (extended from {case.due_date.strftime('%d.%m.%Y')})"
    if is_open(case):
        days = (due - today).days
        if days < 0:
            text += f" ⚠️ OVERDUE by {-days} day{'s' if days != -1 else ''}"
        elif days == 0:
            text += " ⚠️ due TODAY"
        else:
            text += f" ({days} day{'s' if days != 1 else ''} left)"
    return text


def _local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def _classification(details: dict[str, Any]) -> dict[str, Any]:
    value = details.get("classification")
    return value if isinstance(value, dict) else {}


def confidence_phrase(case: Case, *, limit: int = 3) -> str:
    """``access 94 %, erasure 81 %`` for the asked types (or the top scores); "-" if unknown."""
    cls = _classification(case.details)
    scores = cls.get("scores")
    if not isinstance(scores, dict) or not scores:
        return "-"
    labels = [label for label in cls.get("labels") or case.types if label in scores]
    if not labels:
        labels = sorted(scores, key=lambda k: -float(scores[k]))
    shown = ", ".join(f"{label} {round(float(scores[label]) * 100)} %" for label in labels[:limit])
    if cls.get("needs_review"):
        shown += " · ⚠️ needs review"
    return shown


def _sub(details: dict[str, Any], key: str) -> dict[str, Any]:
    value = details.get(key)
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _clip(text: str, limit: int = MAX_REASON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _name(actor: str) -> str:
    return actor.split(":", 1)[-1]


def history_line(item: HistoryItem, tz: str) -> str:
    """One "who decided what" line, from an audit entry."""
    when = _local(item.at, tz).strftime("%d.%m. %H:%M")
    who = "dsrbot" if item.actor == "dsrbot" else _name(item.actor)
    d = item.details
    reasons = [r for r in _strings(d.get("reasons")) if r]
    why = f": {_clip(reasons[0], 120)}" if reasons else ""
    if item.action == "case.status":
        to = str(d.get("to", ""))
        if to == "approved":
            text = f"✅ Approved by {who}"
        elif to == "refused":
            text = f"⛔ Refused by {who}{why}"
        elif to == "done":
            text = f"☑️ Done ({who})"
        elif to == "withdrawn":
            text = f"↩️ Withdrawn ({who})"
        else:
            text = f"→ {to.replace('_', ' ')} ({who})"
    elif item.action == "case.assigned":
        text = f"👤 Assigned to {d.get('to')} by {who}"
    elif item.action == "case.extended":
        text = f"⏳ Extended to {d.get('extended_due_date')} by {who}{why}"
    elif item.action == "case.information_requested":
        text = f"✉️ Question mailed to the requester by {who}"
    else:
        text = f"{item.action} ({who})"
    return f"{text} · {when}"


# --- whole messages ---------------------------------------------------------------------------


def desk_link(desk_url: str, case_id: str) -> str:
    """The case's page on the staff desk (``web.base_url``), where staff log in to read it all."""
    return f"{desk_url.rstrip('/')}/cases/{case_id}"


def render_case(
    view: CaseView, *, personal_data: PersonalData, tz: str, today: date, desk_url: str = ""
) -> Rendered:
    """The case message: posted when the case arrives, edited whenever it changes.

    ``desk_url`` (the desk's ``web.base_url``, empty when the desk is off) adds a link to the
    case page: the chat shows masked data, the desk shows the whole request to a logged-in
    approver."""
    case = view.case
    lines = [f"{status_label(case.status)} · {case.id}"]
    lines.append(f"Asks: {', '.join(t.replace('_', ' ') for t in case.types) or '(unclear)'}")
    lines.append(f"Language: {case.language} · Channel: {case.channel}")
    lines.append(f"Received: {_local(case.received_at, tz).strftime('%d.%m.%Y %H:%M')}")
    lines.append(f"Due: {due_phrase(case, today)}")
    if case.extended and case.extension_reason:
        lines.append(f"Extended because: {_clip(case.extension_reason, 160)}")
    lines.append(f"From: {mask_address(case.requester, personal_data) or '(no address)'}")
    lines.append(f"Customer: {customer_phrase(view, personal_data)}")
    behalf = representation.status_line(
        case, person=_pd(representation.represented_person(case) or "another person",
                         personal_data),
        representative=mask_address(case.on_behalf_of or "", personal_data))
    if behalf:
        lines.append(f"On behalf: {behalf}")
    lines.append(f"Identity: {view.identity.level} · "
                 f"Signature: {case.signature_state.replace('_', ' ')}")
    lines.append(f"Classifier: {confidence_phrase(case)}")
    if case.assignee:
        lines.append(f"Assigned to: {case.assignee}")
    if desk_url:
        lines.append(f"Desk: {desk_link(desk_url, case.id)}")
    reasons = [r for r in case.reasons if r.strip()] + view.identity.event_lines(tz)
    if reasons:
        lines.append("")
        lines.append("Why:")
        shown = reasons[-MAX_REASONS:]
        if len(reasons) > len(shown):
            lines.append(f"• (… {len(reasons) - len(shown)} earlier)")
        lines.extend(f"• {_clip(r)}" for r in shown)
    if view.history:
        lines.append("")
        lines.extend(history_line(item, tz) for item in view.history)
    return Rendered(fit("\n".join(lines)), keyboard_for(case))


def customer_phrase(view: CaseView, personal_data: PersonalData) -> str:
    if view.customer_number is None:
        return "not matched in the register"
    number = _pd(view.customer_number, personal_data, mask_number)
    name = _pd(view.customer_name, personal_data)
    state = "" if view.identity.verified else ", matched, not verified"
    return f"{name or '(no name)'} (no. {number}{state})"


def keyboard_for(case: Case) -> InlineKeyboardMarkup | None:
    """The buttons this case's state allows (the handler re-checks the state anyway)."""
    def button(label: str, verb: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=f"{verb}:{case.id}")

    if not is_open(case):
        return InlineKeyboardMarkup([[button("Details", DETAILS)]])
    rows: list[list[InlineKeyboardButton]] = []
    if case.status != CaseStatus.APPROVED:
        rows.append([button("✅ Approve", APPROVE), button("⛔ Refuse", REFUSE)])
    pending_bans = BAN_TYPES & set(case.types) - set(case.applied_at_once)
    if pending_bans and case.status == CaseStatus.AWAITING_IDENTITY:
        # A ban asked from an address not in the register: one tap sets it on the customer
        # the mail names (it only reduces processing; the confirmation goes to the register).
        rows.append([button("🚫 Apply ban", BAN)])
    second = [button("✉️ Ask for information", ASK)]
    if not case.extended:
        second.append(button("⏳ Extend", EXTEND))
    rows.append(second)
    rows.append([button("👤 Assign to me", ASSIGN), button("Details", DETAILS)])
    return InlineKeyboardMarkup(rows)


def render_details(
    view: CaseView, *, personal_data: PersonalData, tz: str, today: date
) -> str:
    """Everything the pipeline found, for the Details button and ``/case ID``."""
    case = view.case
    out = [render_case(view, personal_data=personal_data, tz=tz, today=today).text, ""]
    cls = _classification(case.details)
    scores = cls.get("scores")
    if isinstance(scores, dict) and scores:
        ranked = sorted(scores.items(), key=lambda kv: -float(kv[1]))
        out.append("Scores: " + ", ".join(f"{k} {float(v):.2f}" for k, v in ranked))
    if cls.get("model_version"):
        out.append(f"Model: {cls['model_version']}")
    identity = _sub(case.details, "identity")
    flags = _strings(identity.get("flags")) + _strings(identity.get("reasons"))
    if identity:
        out.append(f"Identity: {view.identity.level}")
        out.extend(f"  • {_clip(f)}" for f in flags)
        candidates = _strings(identity.get("candidate_ids"))
        if candidates:
            out.append(f"  • {len(candidates)} register candidate(s) for staff to check")
    signature = _sub(case.details, "signature")
    if signature:
        signer = str(signature.get("signer") or "")
        who = f", signer {mask_address(signer, personal_data)}" if signer else ""
        out.append(f"Signature: {signature.get('state', case.signature_state)}{who}")
        out.extend(f"  • {_clip(r)}" for r in _strings(signature.get("reasons")))
    entities = case.details.get("entities")
    if isinstance(entities, list) and entities:
        out.append("Found in the text:")
        for ent in entities[:15]:
            if isinstance(ent, dict):
                text = _pd(str(ent.get("text", "")), personal_data)
                out.append(f"  • {ent.get('label', '?')}: {text}")
    if view.customer_email and personal_data == "full":
        out.append(f"Registered address: {view.customer_email}")
    out.append(f"Messages in thread: {len(case.thread_message_ids)}")
    return fit("\n".join(out))


def render_case_list(cases: Sequence[Case], *, title: str, today: date) -> str:
    """One line per case, no personal data: id, state, types, due."""
    if not cases:
        return f"{title}: none."
    lines = [f"{title} ({len(cases)}):"]
    for case in cases[:40]:
        who = f" · {case.assignee}" if case.assignee else ""
        lines.append(f"{case.id} · {status_label(case.status)} · {', '.join(case.types) or '?'}"
                     f" · due {due_phrase(case, today)}{who}")
    if len(cases) > 40:
        lines.append(f"… and {len(cases) - 40} more (use the console: dsrbot cases)")
    return fit("\n".join(lines))


def fit(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
