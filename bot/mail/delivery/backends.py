"""The backend ``mail.outgoing.backend`` names, built from settings (secrets never logged).
"""

from __future__ import annotations

from bot.mail.delivery.base import DeliveryBackend
from bot.mail.delivery.maildir import MaildirBackend
from bot.mail.delivery.smtp import SmtpBackend
from bot.settings import ConfigError, Settings


def backend_from_settings(settings: Settings) -> DeliveryBackend:
    out = settings.mail.outgoing
    if out.backend == "maildir":
        return MaildirBackend(out.maildir)
    if out.auth == "oauth2":
        from bot.mail.oauth.sources import token_provider

        if not out.username:
            raise ConfigError("mail.outgoing.username: the mailbox to send as is required "
                              "when mail.outgoing.auth = \"oauth2\"")
        return SmtpBackend(out.host, out.port, starttls=out.starttls, use_tls=out.use_tls,
                           username=out.username,
                           tokens=token_provider(settings, out.oauth2, out.username))
    password: str | None = None
    if out.username:
        try:
            password = settings.secret(out.password, out.password_file)
        except OSError as exc:
            raise ConfigError(
                f"mail.outgoing.password_file: cannot be read ({exc.strerror})") from exc
        if password is None:
            raise ConfigError("mail.outgoing.password: username is set but no password; set "
                              "DSRBOT_MAIL__OUTGOING__PASSWORD or mail.outgoing.password_file")
    return SmtpBackend(out.host, out.port, starttls=out.starttls, use_tls=out.use_tls,
                       username=out.username, password=password)
