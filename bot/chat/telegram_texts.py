"""What the staff chat says and the ids it reads: prompts, help, answers, case ids.

Why apart from the app: the prompts double as state (a reply is matched by the prompt's text,
see :mod:`bot.chat.telegram_app`), so their wording and the pattern that reads them back must
change together, in one place.
"""

from __future__ import annotations

import re

from telegram import Update

from bot.chat import render

CASE_ID = re.compile(r"^DSR-\d{4}-\d{4,6}$")
PROMPTS: dict[str, str] = {
    render.REFUSE: "⛔ Refuse {case_id}: reply to this message with the reason. "
                   "The requester is told it in the refusal letter.",
    render.EXTEND: "⏳ Extend {case_id}: reply to this message with the reason (a complex or "
                   "numerous request). The requester is told it.",
    render.ASK: "✉️ Ask {case_id}: reply to this message with your question. It is mailed to "
                "the address the request came from, so do not include register data.",
}
#: Refusing a case whose requester is not verified: nothing may be revealed to that sender, so
#: the letter is the neutral one (handlers.rights.base.send_refusal) and the reason stays ours.
REFUSE_UNVERIFIED_PROMPT = (
    "⛔ Refuse {case_id}: reply to this message with the reason, for the case record. "
    "The requester is not verified, so they get only the neutral letter: the reason is not "
    "sent to them.")


def prompt_text(verb: str, case_id: str, *, requester_verified: bool = True) -> str:
    """The prompt for ``verb``; a refusal's prompt says what the requester will actually get."""
    if verb == render.REFUSE and not requester_verified:
        return REFUSE_UNVERIFIED_PROMPT.format(case_id=case_id)
    return PROMPTS[verb].format(case_id=case_id)


PROMPT_PATTERN = re.compile(r"^\S+ (Refuse|Extend|Ask) (DSR-\d{4}-\d{4,6}):")
PROMPT_VERBS = {"Refuse": render.REFUSE, "Extend": render.EXTEND, "Ask": render.ASK}
NEW_PROMPT = ("📝 New manual request: reply to this message with the request as it came "
              "(letter or phone). Start with the requester's email address if they gave one. "
              "Attach a photo or PDF of the signed letter if there is one, with the text as "
              "its caption.")
NEW_CAPTION = re.compile(r"^/new(@\w+)?(\s|$)")
HELP = (
    "dsrbot staff commands:\n"
    "/cases: open cases\n/case ID: one case in full\n/due [days]: overdue and due soon\n"
    "/approve ID\n/refuse ID reason\n/extend ID reason\n/assign ID: take a case\n"
    "/received ID YYYY-MM-DD reason: set the receipt date back (an earlier request)\n"
    "/authority ID checked DOCUMENT reason, or /authority ID refused reason: the letter of "
    "authority of someone acting for another person\n"
    "/answerto ID representative|subject reason: who gets the answer once the authority is "
    "checked\n"
    "/resend ID: send a bounced answer again to the corrected registered address\n"
    "/delivered ID how: a bounced answer was delivered another way (e.g. posted)\n"
    "/new [text]: a request that came by letter or phone"
)
#: Commands that name a case and give a reason (or more) after it.
REASONED_COMMANDS = ["refuse", "extend", "received", "authority", "answerto", "delivered"]
#: Commands that name a case and nothing more.
SIMPLE_COMMANDS = ["approve", "assign", "resend"]
USAGE = {
    "received": "/received DSR-2026-0001 YYYY-MM-DD the reason",
    "authority": "/authority DSR-2026-0001 checked DOCUMENT the reason, or "
                 "/authority DSR-2026-0001 refused the reason",
    "answerto": "/answerto DSR-2026-0001 representative|subject the reason",
    "delivered": "/delivered DSR-2026-0001 how and when it was delivered",
}


def usage(verb: str) -> str:
    """How to write a reasoned command (``/refuse`` and ``/extend``: the requester is told)."""
    return "Usage: " + USAGE.get(verb, f"/{verb} DSR-2026-0001 the reason (the requester is "
                                       "told it)")


SORRY = "Sorry, that did not work on my side. Please look at the case and try again."
DEFAULT_DUE_DAYS = 7


def parse_case_id(raw: str) -> str | None:
    value = raw.strip().strip("[]").strip().upper()
    return value if CASE_ID.match(value) else None


async def say(update: Update, text: str, *, alert: bool = False) -> None:
    """Answer the person: a toast/alert for a button, a reply for a message."""
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=alert)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text[:4096])
