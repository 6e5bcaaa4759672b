"""OAuth2 (SASL XOAUTH2) for the mailbox: tokens from Microsoft, Google or any token endpoint."""

from bot.mail.oauth.tokens import AccessToken, TokenError, TokenProvider, xoauth2_string

__all__ = ["AccessToken", "TokenError", "TokenProvider", "xoauth2_string"]
