"""Checks of what lives with the service: database, model, trust roots, timezone, policy,
and the Telegram Bot API (a plain HTTPS call: python-telegram-bot is not loaded for it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.doctor import Check, check_policy, fail, ok, warn
from bot.policy_from_settings import signature_warning
from bot.settings import Settings

TELEGRAM_API = "https://api.telegram.org/bot"


def check_database(settings: Settings) -> list[Check]:
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from storage import migrate
    from storage.db import schema_ready

    url = settings.database.url
    if not schema_ready(url):
        return [fail("database", "no dsrbot schema (or the database cannot be reached)",
                     "check database.url, then run `dsrbot init`")]
    try:
        current = migrate.current_revision(url)
    except SQLAlchemyError as exc:
        return [fail("database", f"cannot be read ({exc.__class__.__name__})",
                     "check database.url and that the server runs")]
    heads = ScriptDirectory.from_config(migrate.alembic_config(url)).get_heads()
    if current != ",".join(sorted(heads)):
        return [fail("database", f"schema at {current}, this version needs {','.join(heads)}",
                     "run `dsrbot init` (it upgrades in place)")]
    return [ok("database", f"reachable; schema at {current} (current)")]


def check_model(model_dir: Path) -> list[Check]:
    try:
        from nlp_models.classifier import load_classifier

        classifier = load_classifier(model_dir)
        classifier.classify("Tietopyyntö", "Haluan tarkastaa tietoni.")
    except Exception as exc:
        return [fail("model", f"{model_dir} does not load ({exc.__class__.__name__})",
                     "reinstall dsrbot, or train one with `dsrbot nlp train`")]
    return [ok("model", f"{model_dir} loads and classifies")]


def check_trust(settings: Settings) -> list[Check]:
    from bot.policy_from_settings import identity_policy
    from handlers.signatures.trust import trust_from_settings

    trust = trust_from_settings(identity_policy(settings), base_dir=settings.base_dir)
    if trust.problems:
        return [fail("trust roots", "; ".join(trust.problems),
                     "fix identity.trusted_certificates / identity.trusted_openpgp_keys")]
    return [ok("trust roots", f"{len(trust.x509_roots)} X.509 root(s), "
                              f"{len(trust.openpgp_certs)} OpenPGP certificate(s)")]


def check_timezone(settings: Settings) -> list[Check]:
    name = settings.organisation.timezone
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [fail("timezone", f"{name!r} is not a known time zone",
                     "set organisation.timezone (e.g. Europe/Helsinki); install tzdata")]
    offset = datetime.now(UTC).astimezone(zone).strftime("%z")
    return [ok("timezone", f"{name} (now UTC{offset[:3]}:{offset[3:]})")]


def policy_warnings(settings: Settings) -> list[str]:
    """Settings that are allowed but deserve a second look. Add a rule with one line."""
    warnings: list[str] = []
    unreviewed = sorted(set(settings.approval.auto_approve) & {"access", "erasure",
                                                               "rectification", "portability"})
    if unreviewed:
        warnings.append(f"approval.auto_approve includes {', '.join(unreviewed)}: carried out "
                        "without a person looking")
    signature = signature_warning(settings)
    if signature:
        warnings.append(signature)
    return warnings


def check_settings_policy(settings: Settings) -> list[Check]:
    return check_policy(policy_warnings(settings))


def _telegram(base: str, token: str, method: str, **params: object) -> dict[str, object]:
    url = f"{base}{token}/{method}"
    data = urllib.parse.urlencode({k: str(v) for k, v in params.items()}).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=15) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        try:
            return dict(json.loads(exc.read()))
        except ValueError:
            return {"ok": False, "error_code": exc.code, "description": exc.reason}


def check_telegram(settings: Settings) -> list[Check]:
    chat = settings.chat
    if chat.backend != "telegram":
        return []
    try:
        token = settings.secret(chat.token, chat.token_file)
    except OSError as exc:
        return [fail("telegram", f"chat.token_file cannot be read ({exc.strerror})",
                     "check the file and its permissions")]
    if not token:
        return [fail("telegram", "no bot token", "set DSRBOT_CHAT__TOKEN or chat.token_file")]
    base = chat.telegram_base_url or TELEGRAM_API
    try:
        me = _telegram(base, token, "getMe")
    except OSError as exc:
        return [fail("telegram", f"Bot API unreachable ({exc.__class__.__name__})",
                     "check network access to api.telegram.org")]
    if not me.get("ok"):
        return [fail("telegram", f"getMe refused ({me.get('description', '')})",
                     "check the bot token from @BotFather")]
    bot = me.get("result") or {}
    bot_id = bot.get("id") if isinstance(bot, dict) else None
    checks = [ok("telegram", f"getMe: bot id {bot_id}")]
    if chat.telegram_chat_id is None:
        return [*checks, fail("telegram", "no staff chat", "set chat.telegram_chat_id")]
    member = _telegram(base, token, "getChatMember", chat_id=chat.telegram_chat_id,
                       user_id=bot_id)
    result = member.get("result") or {}
    status = result.get("status") if isinstance(result, dict) else None
    if not member.get("ok") or status in ("left", "kicked", None):
        return [*checks, fail("telegram", f"the bot is not in the staff chat "
                                          f"{chat.telegram_chat_id}",
                              "add the bot to the staff group (or fix chat.telegram_chat_id)")]
    checks.append(ok("telegram", f"the bot is in the staff chat ({status})"))
    if status == "member":
        checks.append(warn("telegram", "the bot is not an administrator of the staff chat",
                           "make it an admin if the group hides messages from bots"))
    return checks
