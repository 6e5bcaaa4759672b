"""The ``[mail]`` settings sections: outgoing mail, the IMAP mailbox, our own receiver.

Kept beside the mail channels that read them (as ``bot.health.settings`` is), so
``bot/settings.py`` stays one screenful per concern; ``bot.settings`` includes them as
``Settings.mail`` and re-exports the classes. Imports nothing of ours but the health section's
address type, so the settings module can import it without a cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.health.settings import OptionalAddress


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OAuth2Settings(_Section):
    """Where a mailbox's OAuth2 access tokens come from (``auth = "oauth2"``).

    microsoft: app-only client credentials (tenant_id, client_id, and client_secret or a
    certificate); google: a service account with domain-wide delegation, or a refresh token;
    generic: any token endpoint (token_url) with client credentials or a refresh token.
    """

    provider: Literal["microsoft", "google", "generic"] = "generic"
    token_url: str = ""
    tenant_id: str = ""
    client_id: str = ""
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    #: Microsoft: a PEM file with the certificate's private key, and the certificate's SHA-1
    #: thumbprint (hex) as Entra shows it.
    certificate_file: Path | None = None
    certificate_thumbprint: str = ""
    #: Google: the service account's JSON key file (domain-wide delegation to the mailbox).
    service_account_file: Path | None = None
    refresh_token: SecretStr | None = None
    refresh_token_file: Path | None = None
    #: Empty: the provider's own (Microsoft https://outlook.office365.com/.default, Google
    #: https://mail.google.com/).
    scope: str = ""
    #: A token is renewed this long before it expires.
    refresh_margin_seconds: int = Field(default=300, ge=0)


class OutgoingMailSettings(_Section):
    backend: Literal["smtp", "maildir"] = "maildir"
    maildir: Path = Path("var/outbox")
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    use_tls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    #: "oauth2": SASL XOAUTH2 with a token from [mail.outgoing.oauth2] (username = the mailbox).
    auth: Literal["password", "oauth2"] = "password"
    oauth2: OAuth2Settings = OAuth2Settings()
    max_attempts: int = Field(default=12, ge=1)
    #: A letter being sent is held this long; if the sender dies mid-delivery, another
    #: sender (or the restarted one) sends it again after that, with the same Message-ID.
    lease_seconds: int = Field(default=300, ge=1)
    from_address: str = "info@rusttet.fi"


class ImapSettings(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=993, ge=1, le=65535)
    ssl: bool = True
    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    #: "oauth2": SASL XOAUTH2 with a token from [mail.imap.oauth2] (username = the mailbox).
    auth: Literal["password", "oauth2"] = "password"
    oauth2: OAuth2Settings = OAuth2Settings()
    #: After this many logins in a row fail, staff are told in the chat (once per outage).
    alert_after_failures: int = Field(default=5, ge=1)
    mailbox: str = "INBOX"
    #: Where a stored request is moved after it is committed; empty means flag it instead.
    processed_folder: str = "dsrbot/processed"
    #: On the very first start: "now" leaves mail already in the mailbox to people;
    #: "all" runs it through the pipeline too (answering it). A backlog is `dsrbot ingest`.
    start_from: Literal["now", "all"] = "now"
    poll_seconds: float = Field(default=30.0, gt=0)


class ReceiverSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=0, le=65535)
    protocol: Literal["smtp", "lmtp"] = "smtp"
    #: 40 MiB on the wire: a 25 MB attachment grows to ~34 MB in base64.
    max_message_bytes: int = Field(default=40 * 1024 * 1024, ge=1024)
    #: Customer service's address: SMTP/LMTP mail that reaches no case is forwarded there
    #: once, attached whole (README "Deployment shapes"). Empty: off.
    forward_other_to: OptionalAddress = ""
    #: Forward robots' mail too (never matched bounces, probes or our own mail).
    forward_robots: bool = False
    #: The authserv-id this receiver writes in its Received line and its own DKIM verdict.
    authserv_id: str = Field(default="dsrbot.invalid", min_length=1)
    #: Peers (IP addresses or networks) that are our own MX: their trace headers are trusted.
    #: Mail from anyone else reached us "straight from outside".
    trusted_relays: list[str] = Field(default_factory=list)
    #: Verify DKIM of mail from outside ourselves (DNS look-ups of the signer's key).
    check_dkim: bool = True


class MailSettings(_Section):
    outgoing: OutgoingMailSettings = OutgoingMailSettings()
    imap: ImapSettings = ImapSettings()
    receiver: ReceiverSettings = ReceiverSettings()
    #: Messages one sender may send per ``rate_limit_window_minutes`` before the rest is held.
    rate_limit_per_sender: int = Field(default=20, ge=1)
    rate_limit_window_minutes: int = Field(default=60, ge=1)
