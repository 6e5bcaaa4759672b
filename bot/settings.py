"""Settings: one TOML file, overridden from the environment, validated before anything starts.

Why this shape: operators keep a reviewed config file in version control, while secrets and
per-host values come from the environment (``DSRBOT_`` prefix, ``__`` between levels). A secret
written into the file is refused outright, because config files get copied, pasted and committed.
Every error names the dotted key so a bad config is fixed in one attempt.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config_path import resolve_config_path
from bot.health.settings import HealthSettings
from bot.mail.settings import (
    ImapSettings,
    MailSettings,
    OAuth2Settings,
    OutgoingMailSettings,
    ReceiverSettings,
)
from handlers.policy import DEFAULT_TIMEZONE
from mailformat import DsrbotError

RequestTypeName = Literal[
    "access",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "marketing_optout",
    "publication_ban",
    "portability",
]
#: The same names as a tuple (``nlp_models.labels.REQUEST_LABELS`` must match: tested).
REQUEST_TYPES: tuple[str, ...] = get_args(RequestTypeName)

#: Keys that hold secrets. They may come from the environment or from a ``*_file`` path only.
SECRET_KEYS = frozenset({"password", "token", "key", "secret_key", "client_secret",
                         "refresh_token"})
#: An audit key shorter than this is refused (``openssl rand -hex 32`` gives 64 characters).
MIN_AUDIT_KEY_CHARS = 32


__all__ = ["ConfigError", "ImapSettings", "MailSettings", "OAuth2Settings",
           "OutgoingMailSettings", "ReceiverSettings", "Settings", "load_settings"]


class ConfigError(DsrbotError):
    """A configuration problem, phrased for the operator: ``key: problem``."""

    exit_code = 2
    label = "config error"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/dsrbot.db"


class OrganisationSettings(_Section):
    name: str = "Rusttet Oy"
    addresses: list[str] = Field(default_factory=lambda: ["info@rusttet.fi"])
    timezone: str = DEFAULT_TIMEZONE
    register_name: str = "Asiakasrekisteri"

    @field_validator("addresses")
    @classmethod
    def _addresses_are_mail(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"{address!r} is not an email address")
        return [a.strip().lower() for a in value]


def _default_auto_approve() -> list[RequestTypeName]:
    return ["marketing_optout", "publication_ban"]


class ApprovalSettings(_Section):
    auto_approve: list[RequestTypeName] = Field(default_factory=_default_auto_approve)


class RightsSettings(_Section):
    #: Request types that must also be signed, as the privacy notice literally says (default
    #: none: TSV 6097/161/21 held such a demand excessive; a verified identity is enough).
    require_signature: list[RequestTypeName] = Field(default_factory=list)


class IdentitySettings(_Section):
    trusted_authserv_ids: list[str] = Field(default_factory=list)
    challenge_ttl_hours: int = Field(default=72, ge=1)
    challenge_max_attempts: int = Field(default=5, ge=1)
    #: A signature verifies a request only when signed at most this many days before receipt.
    signature_max_age_days: int = Field(default=30, ge=1)
    #: PEM/DER files of X.509 roots trusted for S/MIME and PDF signatures.
    trusted_certificates: list[Path] = Field(default_factory=list)
    #: OpenPGP certificate files (armored or binary; keyrings allowed) trusted for signatures.
    trusted_openpgp_keys: list[Path] = Field(default_factory=list)


class StaffMember(_Section):
    name: str
    telegram_user_id: int | None = None
    role: Literal["approver", "viewer"] = "viewer"


class ChatSettings(_Section):
    backend: Literal["telegram", "console"] = "console"
    personal_data: Literal["masked", "full"] = "masked"
    telegram_chat_id: int | None = None
    telegram_base_url: str | None = None
    token: SecretStr | None = None
    token_file: Path | None = None
    staff: list[StaffMember] = Field(default_factory=list)


class StaffSettings(_Section):
    """Who may be at the console. Staff themselves are ``chat.staff`` and the Staff table."""

    #: OS login name -> staff name. When set, ``--as`` must be the name mapped to the OS user
    #: running the command (an OS user not in the map may not act as anyone).
    console_users: dict[str, str] = Field(default_factory=dict)


class AuditSettings(_Section):
    """Anchoring the hash chain (see :mod:`storage.audit`)."""

    #: The HMAC key, from DSRBOT_AUDIT__KEY or ``key_file`` only (never this file).
    key: SecretStr | None = None
    key_file: Path | None = None
    #: Where the daily checkpoint is appended (``DATE COUNT HASH`` per line).
    checkpoint_log: Path = Path("var/audit-checkpoints.log")
    #: Also mail the daily checkpoint here (someone outside the database's reach); empty: no.
    checkpoint_to: str = ""

    @field_validator("checkpoint_to")
    @classmethod
    def _checkpoint_to_is_mail(cls, value: str) -> str:
        value = value.strip()
        if value and ("@" not in value or any(c.isspace() for c in value)):
            raise ValueError(f"{value!r} is not an email address")
        return value


class RetentionSettings(_Section):
    years_after_relationship_end: int = Field(default=10, ge=1)
    #: Raw bytes of mail that asked for no right are purged this many days after it came.
    other_mail_days: int = Field(default=30, ge=1)
    #: Report PDFs and exports leave the outbox this many days after delivery.
    report_attachments_days: int = Field(default=30, ge=0)
    #: A closed case's whole file is deleted this many years after it closed (Act 728/2003).
    case_years: int = Field(default=3, ge=1)


def _default_offsets() -> list[int]:
    return [7, 3, 1]


class SchedulerSettings(_Section):
    """The clock: how often the periodic jobs look at the database, and what they remind of."""

    enabled: bool = True
    #: How often the case and challenge jobs run; each run asks the database what is due.
    tick_seconds: float = Field(default=300.0, gt=0)
    #: How often retention and the digest are looked at (each acts at most once a day).
    daily_check_seconds: float = Field(default=900.0, gt=0)
    #: Staff are reminded this many working days before a case is due.
    reminder_offsets_working_days: list[int] = Field(default_factory=_default_offsets)
    #: Warn this many working days before the first month ends on cases that may need an
    #: extension (it can only be made within the first month).
    extension_warning_working_days: int = Field(default=5, ge=0, le=20)
    #: Escalate every working day once a case is overdue.
    overdue_escalation: bool = True
    #: Remind the registered address this many hours before an identity code expires.
    challenge_reminder_hours_before_expiry: int = Field(default=24, ge=1)
    #: Local time (organisation.timezone) after which the daily digest goes to the staff chat.
    digest_time: str = "08:00"
    digest_working_days_only: bool = True
    #: Anonymise customers whose retention period is over (unless a hold applies).
    retention_enabled: bool = True
    #: At most this many customers are looked at per retention run (the rest on the next run).
    retention_batch: int = Field(default=500, ge=1)

    @field_validator("reminder_offsets_working_days")
    @classmethod
    def _offsets_are_working_days(cls, value: list[int]) -> list[int]:
        if any(v < 0 or v > 60 for v in value):
            raise ValueError("offsets are working days from 0 to 60")
        return sorted(set(value), reverse=True)

    @field_validator("digest_time")
    @classmethod
    def _digest_time_is_hh_mm(cls, value: str) -> str:
        parts = value.strip().split(":")
        if (len(parts) != 2 or not all(p.isdigit() for p in parts)
                or not (0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60)):
            raise ValueError(f"{value!r} is not a time like 08:00")
        return f"{int(parts[0]):02d}:{int(parts[1]):02d}"


class PipelineSettings(_Section):
    """How inbound mail is processed: the time budget that stops one mail holding the service,
    and how many messages commit together."""

    #: Parse, triage and classify of one message run in a worker process; one that takes
    #: longer is stopped and the message quarantined ("took too long in STAGE").
    max_seconds_per_message: float = Field(default=20.0, gt=0)
    #: Messages whose cases, receipts and states commit in one transaction.
    batch_size: int = Field(default=50, ge=1, le=1000)


class WebSettings(_Section):
    """The staff desk: a web view served by ``dsrbot run`` (loopback unless configured)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8026, ge=0, le=65535)
    #: How staff reach the desk (links in chat cards and digests), e.g. https://desk.example.fi
    base_url: str = "http://127.0.0.1:8026"
    #: A session ends after this many minutes without a request.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    #: Signs the session cookie. From the environment or a file only; without one a random key
    #: is made at start (sessions then end when the service restarts).
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    #: Send the session cookie only over HTTPS (set when a TLS proxy fronts the desk).
    secure_cookies: bool = False


class Settings(BaseSettings):
    """The whole configuration. Built only through :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="DSRBOT_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    database: DatabaseSettings = DatabaseSettings()
    mail: MailSettings = MailSettings()
    organisation: OrganisationSettings = OrganisationSettings()
    approval: ApprovalSettings = ApprovalSettings()
    identity: IdentitySettings = IdentitySettings()
    rights: RightsSettings = RightsSettings()
    chat: ChatSettings = ChatSettings()
    staff: StaffSettings = StaffSettings()
    audit: AuditSettings = AuditSettings()
    retention: RetentionSettings = RetentionSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    health: HealthSettings = HealthSettings()
    pipeline: PipelineSettings = PipelineSettings()
    web: WebSettings = WebSettings()
    #: Folder the relative paths were resolved against (the config file's folder).
    base_dir: Path = Path(".")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed as init kwargs).
        return (env_settings, init_settings)

    def secret(self, value: SecretStr | None, path: Path | None) -> str | None:
        """Return a secret from the environment value or the file it points to."""
        if value is not None:
            return value.get_secret_value()
        if path is not None:
            return path.read_text(encoding="utf-8").strip()
        return None

    def audit_key(self) -> bytes | None:
        """The audit HMAC key, or None; :class:`ConfigError` when it is too short to matter."""
        try:
            raw = self.secret(self.audit.key, self.audit.key_file)
        except OSError as exc:
            raise ConfigError(f"audit.key_file: cannot read ({exc.__class__.__name__})") from exc
        if raw is None:
            return None
        if len(raw) < MIN_AUDIT_KEY_CHARS:
            raise ConfigError(f"audit.key: at least {MIN_AUDIT_KEY_CHARS} characters "
                              "(e.g. openssl rand -hex 32)")
        return raw.encode()


def _find_secrets_in_file(data: dict[str, Any], prefix: str = "") -> str | None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            found = _find_secrets_in_file(value, dotted + ".")
            if found:
                return found
        elif key in SECRET_KEYS:
            return dotted
    return None


def _resolve_paths(settings: Settings, base: Path) -> None:
    outgoing = settings.mail.outgoing
    if not outgoing.maildir.is_absolute():
        outgoing.maildir = base / outgoing.maildir
    oauth = (settings.mail.outgoing.oauth2, settings.mail.imap.oauth2)
    for section, attr in (
        *((o, a) for o in oauth for a in ("client_secret_file", "certificate_file",
                                          "service_account_file", "refresh_token_file")),
        (settings.mail.outgoing, "password_file"),
        (settings.mail.imap, "password_file"),
        (settings.chat, "token_file"),
        (settings.audit, "key_file"),
        (settings.web, "secret_key_file"),
    ):
        value = getattr(section, attr)
        if value is not None and not value.is_absolute():
            setattr(section, attr, base / value)
    identity = settings.identity
    identity.trusted_certificates = [p if p.is_absolute() else base / p
                                     for p in identity.trusted_certificates]
    identity.trusted_openpgp_keys = [p if p.is_absolute() else base / p
                                     for p in identity.trusted_openpgp_keys]
    if not settings.audit.checkpoint_log.is_absolute():
        settings.audit.checkpoint_log = base / settings.audit.checkpoint_log
    url = settings.database.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        settings.database.url = prefix + str((base / url[len(prefix) :]).resolve())


def _format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}")
    return "; ".join(lines)


def load_settings(config_path: Path | None = None) -> Settings:
    """Load, validate and resolve settings; raise :class:`ConfigError` naming the bad key."""
    path = resolve_config_path(config_path)
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file {path}: does not exist")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: not valid TOML ({exc})") from exc
        secret_key = _find_secrets_in_file(data)
        if secret_key:
            env_name = "DSRBOT_" + secret_key.upper().replace(".", "__")
            raise ConfigError(
                f"{secret_key}: secrets may not be written in the config file; "
                f"set {env_name} or {secret_key}_file"
            )
        base = path.resolve().parent
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from exc
    settings.base_dir = base
    _resolve_paths(settings, base)
    return settings
