"""Checks of the mail servers: IMAP login, IDLE and folders; SMTP relay EHLO, STARTTLS, AUTH.

The same login code paths as the service (password, or XOAUTH2 with a token from the same
provider), so "doctor says ok" means the watcher and the sender will get in too.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable

from bot.doctor import Check, fail, ok, warn
from bot.settings import ConfigError, Settings


def _imap_login_fix(settings: Settings) -> str:
    if settings.mail.imap.auth == "oauth2":
        return ("check [mail.imap.oauth2] and that the app may read this mailbox "
                "(consent, Exchange service principal / domain-wide delegation)")
    return "check mail.imap.username and DSRBOT_MAIL__IMAP__PASSWORD (or password_file)"


def check_imap(settings: Settings, create_folder: Callable[[str], bool]) -> list[Check]:
    """``create_folder(name)`` asks (or was told by --fix) whether to create a missing folder."""
    from imapclient import IMAPClient
    from imapclient.exceptions import LoginError

    from bot.mail.oauth import TokenError

    cfg = settings.mail.imap
    if not cfg.enabled:
        return []
    where = f"{cfg.host}:{cfg.port}"
    try:
        client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.ssl, timeout=15)
    except (OSError, ssl.SSLError) as exc:
        return [fail("imap", f"cannot connect to {where} ({exc.__class__.__name__})",
                     "check mail.imap.host, port and ssl, and the firewall")]
    try:
        try:
            if cfg.auth == "oauth2":
                from bot.mail.oauth.sources import token_provider

                token = token_provider(settings, cfg.oauth2, cfg.username).token()
                client.oauth2_login(cfg.username, token.value)
            else:
                password = settings.secret(cfg.password, cfg.password_file)
                client.login(cfg.username, password or "")
        except (LoginError, TokenError, ConfigError, OSError) as exc:
            detail = str(exc) if isinstance(exc, TokenError | ConfigError) else "login refused"
            return [fail("imap", f"{cfg.username} at {where}: {detail}",
                         _imap_login_fix(settings))]
        checks = [ok("imap", f"logged in to {where} as {cfg.username} ({cfg.auth})")]
        if client.has_capability("IDLE"):
            checks.append(ok("imap", "IDLE supported (new mail is seen at once)"))
        else:
            checks.append(warn("imap", f"no IDLE: the mailbox is polled every "
                                       f"{cfg.poll_seconds:g} s", "lower mail.imap.poll_seconds"))
        checks += _folders(client, cfg.mailbox, cfg.processed_folder.strip(), create_folder)
        return checks
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _folders(client: object, mailbox: str, processed: str,
             create_folder: Callable[[str], bool]) -> list[Check]:
    from imapclient import IMAPClient

    assert isinstance(client, IMAPClient)
    checks = []
    if client.folder_exists(mailbox):
        checks.append(ok("imap", f"watched folder {mailbox!r} exists"))
    else:
        checks.append(fail("imap", f"watched folder {mailbox!r} does not exist",
                           "fix mail.imap.mailbox (usually INBOX)"))
    if not processed:
        checks.append(ok("imap", "processed requests are flagged, not moved"))
        return checks
    name = processed
    if client.has_capability("NAMESPACE"):
        personal = client.namespace().personal
        if personal:
            prefix, delimiter = personal[0][0] or "", personal[0][1] or "/"
            name = (prefix if not name.startswith(prefix) else "") + name.replace("/", delimiter)
    if client.folder_exists(name):
        checks.append(ok("imap", f"processed folder {name!r} exists"))
    elif create_folder(name):
        client.create_folder(name)
        checks.append(ok("imap", f"processed folder {name!r} created"))
    else:
        checks.append(fail("imap", f"processed folder {name!r} does not exist",
                           "run `dsrbot doctor --fix` to create it (the watcher also creates "
                           "it on first move if it may)"))
    return checks


async def check_smtp(settings: Settings) -> list[Check]:
    import aiosmtplib

    from bot.mail.delivery.backends import backend_from_settings
    from bot.mail.delivery.smtp import SmtpBackend
    from bot.mail.oauth import TokenError

    out = settings.mail.outgoing
    if out.backend != "smtp":
        return [ok("smtp", f"not used: letters go to the maildir {out.maildir}")]
    where = f"{out.host}:{out.port}"
    try:
        backend = backend_from_settings(settings)
    except ConfigError as exc:
        return [fail("smtp", str(exc), "fix [mail.outgoing]")]
    assert isinstance(backend, SmtpBackend)
    client = aiosmtplib.SMTP(hostname=out.host, port=out.port, use_tls=out.use_tls,
                             start_tls=False, timeout=15)
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return [fail("smtp", f"relay {where} unreachable ({exc.__class__.__name__})",
                     "check mail.outgoing.host and port, and the firewall")]
    try:
        if not client.last_ehlo_response:
            await client.ehlo()
        checks = [ok("smtp", f"relay {where} answered EHLO")]
        if out.starttls and not out.use_tls:
            if not client.supports_extension("starttls"):
                return [*checks, fail("smtp", "the relay does not offer STARTTLS",
                                      "use the submission port (587) or set starttls = false "
                                      "for a local relay")]
            try:
                await client.starttls()
            except (aiosmtplib.SMTPException, ssl.SSLError, OSError) as exc:
                return [*checks, fail("smtp", f"STARTTLS failed ({exc.__class__.__name__})",
                                      "check the relay's certificate and the host name")]
            checks.append(ok("smtp", "STARTTLS works"))
        if out.username:
            try:
                if out.auth == "oauth2":
                    await backend.oauth_login(client)
                else:
                    await client.login(out.username, backend.password or "")
            except (aiosmtplib.SMTPException, TokenError) as exc:
                what = str(exc) if isinstance(exc, TokenError) else "AUTH refused"
                return [*checks, fail("smtp", f"{out.username}: {what}",
                                      "check the relay login (DSRBOT_MAIL__OUTGOING__PASSWORD "
                                      "or [mail.outgoing.oauth2])")]
            checks.append(ok("smtp", f"AUTH as {out.username} ({out.auth})"))
        return checks
    finally:
        with contextlib.suppress(Exception):
            await client.quit()
