"""The staff chat on Telegram: a python-telegram-bot Application inside the service's loop.

What it does: posts every new case to the staff group with buttons (Approve, Refuse, Ask for
information, Extend, Assign to me, Details), answers the commands ``HELP`` lists (``/cases``,
``/case ID``, ``/approve ID``, ``/refuse ID reason``, ``/authority ...``, ``/new`` and more),
and edits a case's message whenever the case changes.

Why it is shaped like this:

* Each handler only parses, checks the person (:mod:`bot.chat.staff`), calls the case engine
  through :mod:`bot.chat.actions` in a worker thread, and answers. No rule lives here.
* Reasons and questions are asked for with a ForceReply prompt whose text names the action and
  the case (``⛔ Refuse DSR-2026-0001: ...``). The reply is matched by that text, so nothing is
  kept in memory between the tap and the reply and a restart in between loses nothing.
* The chat message of a case is only ever written by the notifier (the outbox loop), which
  retries; a decision writes an outbox row in its own transaction and wakes the loop.
* A Telegram outage at start does not stop the service: connecting is retried in the
  background while cases keep arriving and the outbox keeps their messages for later.
* Only the configured staff group and private chats are served; in any other group even staff
  get a refusal, because other members there could read the answer.
* Logs name error classes and case ids only. httpx is quieted to WARNING because it logs
  request URLs, which contain the bot token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, date, datetime

from telegram import ForceReply, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.chat import render
from bot.chat.actions import ChatActions
from bot.chat.manual_intake import IntakeError
from bot.chat.notifier import Notifier, stop_task
from bot.chat.staff import Member
from bot.chat.telegram_files import download_attachments, file_base_url
from bot.chat.telegram_texts import (
    DEFAULT_DUE_DAYS,
    HELP,
    NEW_CAPTION,
    NEW_PROMPT,
    PROMPT_PATTERN,
    PROMPT_VERBS,
    PROMPTS,
    REASONED_COMMANDS,
    SIMPLE_COMMANDS,
    SORRY,
    parse_case_id,
    prompt_text,
    say,
    usage,
)
from bot.settings import ConfigError, Settings
from handlers import deadlines
from storage.db import Database

log = logging.getLogger(__name__)

class TelegramChat:
    """The service component (``name``, ``start``, ``stop``)."""

    name = "telegram"

    def __init__(self, settings: Settings, db: Database, *, poll_interval: float = 2.0) -> None:
        chat = settings.chat
        token = settings.secret(chat.token, chat.token_file)
        if not token:
            raise ConfigError("chat.token: required when chat.backend = \"telegram\" "
                              "(set DSRBOT_CHAT__TOKEN or chat.token_file)")
        if chat.telegram_chat_id is None:
            raise ConfigError("chat.telegram_chat_id: required when chat.backend = \"telegram\"")
        self.settings = settings
        self.chat_id: int = chat.telegram_chat_id
        self.tz = settings.organisation.timezone
        self.desk_url = settings.web.base_url if settings.web.enabled else ""
        self.actions = ChatActions(settings, db)
        builder: ApplicationBuilder = ApplicationBuilder().token(token)
        if chat.telegram_base_url:
            builder = builder.base_url(chat.telegram_base_url).base_file_url(
                file_base_url(chat.telegram_base_url))
        self.application: Application = builder.build()
        self.notifier = Notifier(db, self.application.bot, chat_id=self.chat_id,
                                 personal_data=chat.personal_data, tz=self.tz,
                                 poll_interval=poll_interval, desk_url=self.desk_url)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._register_handlers()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Returns at once; connecting and delivering run in the background."""
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._connect(), name="telegram-connect"),
                       asyncio.create_task(self.notifier.run(self._stop), name="chat-notifier")]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=5)
            except (TimeoutError, Exception):
                await stop_task(task)
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        await app.bot.shutdown()

    async def _connect(self) -> None:
        """Initialise and start polling, retrying while Telegram cannot be reached."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                await self.application.initialize()
                break
            except TelegramError as exc:
                log.warning("chat: Telegram not reachable (%s); retrying in %.0fs",
                            exc.__class__.__name__, delay)
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                except TimeoutError:
                    delay = min(delay * 2, 300.0)
        if self._stop.is_set():
            return
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
            error_callback=self._polling_error)
        log.info("chat: connected to Telegram as bot %s", self.application.bot.id)

    @staticmethod
    def _polling_error(error: TelegramError) -> None:
        # PTB retries polling itself; its default handler would log URLs (with the token).
        log.warning("chat: polling failed (%s); PTB retries", error.__class__.__name__)

    def _register_handlers(self) -> None:
        app = self.application
        app.add_handler(CallbackQueryHandler(self.on_button, pattern=render.CALLBACK_PATTERN))
        app.add_handler(CallbackQueryHandler(self.on_unknown_button))
        app.add_handler(CommandHandler(["start", "help"], self.on_help))
        app.add_handler(CommandHandler("cases", self.on_cases))
        app.add_handler(CommandHandler("case", self.on_case))
        app.add_handler(CommandHandler("due", self.on_due))
        app.add_handler(CommandHandler(SIMPLE_COMMANDS, self.on_simple_decision))
        app.add_handler(CommandHandler(REASONED_COMMANDS, self.on_reasoned_decision))
        app.add_handler(CommandHandler("new", self.on_new))
        attachment = filters.PHOTO | filters.Document.ALL
        app.add_handler(MessageHandler(filters.CaptionRegex(NEW_CAPTION) & attachment,
                                       self.on_new_with_attachment))
        app.add_handler(MessageHandler(
            filters.REPLY & ~filters.COMMAND & (filters.TEXT | attachment), self.on_reply))
        app.add_error_handler(self.on_error)

    # -- the gate ----------------------------------------------------------------------------

    def _chat_allowed(self, update: Update) -> bool:
        chat = update.effective_chat
        return chat is not None and (chat.id == self.chat_id or chat.type == ChatType.PRIVATE)

    async def _gate(self, update: Update, verb: str, case_id: str | None = None) -> Member | None:
        """The staff member behind this update if they may ``verb``; else refuse politely."""
        user = update.effective_user
        if user is None:
            return None
        gate = await asyncio.to_thread(self.actions.gate, user.id, verb,
                                       chat_allowed=self._chat_allowed(update), case_id=case_id)
        if gate.allowed:
            return gate.member
        log.info("chat: refused %s by telegram user %s (%s)", verb, user.id, gate.denial)
        await say(update, gate.message, alert=True)
        return None

    # -- buttons -----------------------------------------------------------------------------

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        match = render.CALLBACK_PATTERN.match(query.data or "")
        assert match is not None
        verb, case_id = match.group(1), match.group(2)
        member = await self._gate(update, verb, case_id)
        if member is None:
            return
        if verb == render.DETAILS:
            await self._send_details(update, case_id, member)
            await query.answer()
        elif verb in PROMPTS:
            verified = (await asyncio.to_thread(self.actions.requester_verified, case_id)
                        if verb == render.REFUSE else True)
            await self._prompt(update, prompt_text(verb, case_id, requester_verified=verified))
            await query.answer("Reply to my message, please.")
        else:
            outcome = await asyncio.to_thread(self.actions.decide, member, verb, case_id)
            await query.answer(outcome.message[:200], show_alert=not outcome.ok)
            if outcome.changed:
                self.notifier.wake()
                await self._refresh_copy(query.message, case_id)

    async def on_unknown_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer("This button is no longer valid.")

    async def _refresh_copy(self, message: object, case_id: str) -> None:
        """A button on a ``/case`` copy: edit that copy too (the tracked one is the notifier's)."""
        if not isinstance(message, Message):
            return
        shown = await asyncio.to_thread(self.actions.shown_message, case_id)
        if shown == message.message_id:
            return
        view = await asyncio.to_thread(self.actions.view, case_id)
        if view is None:
            return
        rendered = render.render_case(view, personal_data=self.settings.chat.personal_data,
                                      tz=self.tz, today=self._today(), desk_url=self.desk_url)
        try:
            await message.edit_text(rendered.text, reply_markup=rendered.keyboard)
        except TelegramError as exc:  # best effort: the tracked message is what counts
            log.info("chat: could not refresh a copy of %s (%s)", case_id,
                     exc.__class__.__name__)

    async def _prompt(self, update: Update, text: str) -> None:
        chat = update.effective_chat
        assert chat is not None
        await chat.send_message(text, reply_markup=ForceReply(selective=False))

    # -- commands ----------------------------------------------------------------------------

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await update.effective_message.reply_text(
                HELP + "\n\nOnly named staff may use this bot.")

    async def on_cases(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._gate(update, "view") is None:
            return
        cases = await asyncio.to_thread(self.actions.open_cases)
        await say(update, render.render_case_list(cases, title="Open cases",
                                                        today=self._today()))

    async def on_due(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        try:
            days = int(args[0]) if args else DEFAULT_DUE_DAYS
        except ValueError:
            days = -1
        if not 0 <= days <= 366:
            await say(update, "Usage: /due [days], e.g. /due 7")
            return
        if await self._gate(update, "view") is None:
            return
        cases = await asyncio.to_thread(self.actions.due, days, self._today())
        await say(update, render.render_case_list(
            cases, title=f"Overdue or due within {days} days", today=self._today()))

    async def on_case(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        case_id = parse_case_id(context.args[0]) if context.args else None
        if case_id is None:
            await say(update, "Usage: /case DSR-2026-0001")
            return
        member = await self._gate(update, "view", case_id)
        if member is None:
            return
        await self._send_details(update, case_id, member, with_buttons=True)

    async def _send_details(self, update: Update, case_id: str, member: Member, *,
                            with_buttons: bool = False) -> None:
        view = await asyncio.to_thread(self.actions.view, case_id, member)
        chat = update.effective_chat
        assert chat is not None
        if view is None:
            await chat.send_message(f"There is no case {case_id}.")
            return
        text = render.render_details(view, personal_data=self.settings.chat.personal_data,
                                     tz=self.tz, today=self._today())
        keyboard = render.keyboard_for(view.case) if with_buttons else None
        await chat.send_message(text, reply_markup=keyboard)

    async def on_simple_decision(self, update: Update, context: ContextTypes.DEFAULT_TYPE
                                 ) -> None:
        """``/approve ID`` and the other SIMPLE_COMMANDS."""
        verb = self._command(update)
        case_id = parse_case_id(context.args[0]) if context.args else None
        if case_id is None:
            await say(update, f"Usage: /{verb} DSR-2026-0001")
            return
        await self._decide(update, verb, case_id, "")

    async def on_reasoned_decision(self, update: Update,
                                   context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/refuse ID reason``, ``/extend ID reason``, ``/received``, ``/authority``..."""
        verb = self._command(update)
        parts = (getattr(update.effective_message, "text", None) or "").split(maxsplit=2)
        case_id = parse_case_id(parts[1]) if len(parts) > 1 else None
        reason = parts[2].strip() if len(parts) > 2 else ""
        if case_id is None or not reason:
            await say(update, usage(verb))
            return
        await self._decide(update, verb, case_id, reason)

    async def _decide(self, update: Update, verb: str, case_id: str, text: str) -> None:
        member = await self._gate(update, verb, case_id)
        if member is None:
            return
        outcome = await asyncio.to_thread(self.actions.decide, member, verb, case_id, text)
        await say(update, outcome.message)
        if outcome.changed:
            self.notifier.wake()

    @staticmethod
    def _command(update: Update) -> str:
        message = update.effective_message
        text = message.text if message and message.text else ""
        return text.split()[0].lstrip("/").split("@")[0].lower() if text else ""

    # -- replies to prompts, and manual intake -----------------------------------------------

    async def on_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.reply_to_message is None:
            return
        prompt = message.reply_to_message
        if prompt.from_user is None or prompt.from_user.id != context.bot.id:
            return  # a reply to a person, not to us
        prompt_text = prompt.text or ""
        if prompt_text.startswith(NEW_PROMPT[:20]):
            await self._intake(update, message, message.text or message.caption or "")
            return
        match = PROMPT_PATTERN.match(prompt_text)
        if match is None:
            return
        verb, case_id = PROMPT_VERBS[match.group(1)], match.group(2)
        text = (message.text or "").strip()
        if not text:
            await say(update, "Please reply with text.")
            return
        await self._decide(update, verb, case_id, text)

    async def on_new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        text = (message.text or "").split(maxsplit=1)
        if len(text) < 2:
            if await self._gate(update, "intake") is not None:
                await self._prompt(update, NEW_PROMPT)
            return
        await self._intake(update, message, text[1])

    async def on_new_with_attachment(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        message = update.effective_message
        if message is None:
            return
        caption = NEW_CAPTION.sub("", message.caption or "", count=1)
        await self._intake(update, message, caption)

    async def _intake(self, update: Update, message: Message, text: str) -> None:
        member = await self._gate(update, "intake")
        if member is None:
            return
        try:
            files = await download_attachments(message)
            outcome = await asyncio.to_thread(self.actions.intake, member, text, files,
                                              datetime.now(UTC))
        except IntakeError as exc:
            await say(update, f"Not stored: {exc}.")
            return
        await say(update, outcome.message)

    # -- errors ------------------------------------------------------------------------------

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Class name only: exception texts can quote SQL parameters or URLs with the token.
        log.error("chat: handler failed: %s", context.error.__class__.__name__)
        if isinstance(update, Update):
            with contextlib.suppress(TelegramError):
                await say(update, SORRY, alert=True)

    def _today(self) -> date:
        return deadlines.local_date(datetime.now(UTC), self.tz)
