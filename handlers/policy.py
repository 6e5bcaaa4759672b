"""The rules the domain is configured with, as frozen values handed down from ``bot/``.

Why these types live here and not in ``bot.settings``: the domain must not import the layer
above it. ``bot/policy_from_settings.py`` builds them ONCE from the validated settings; tests
build them directly. Each holds only what the domain reads, so a change to how settings are
written (a renamed TOML key, a new source) never reaches ``handlers/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import mailformat  # its names load on first use: bot.settings imports this module

#: The organisation's timezone unless configured otherwise (``organisation.timezone``): the
#: one place the default is written.
DEFAULT_TIMEZONE = "Europe/Helsinki"


def _default_zone() -> ZoneInfo:
    return ZoneInfo(DEFAULT_TIMEZONE)


@dataclass(frozen=True)
class RecordRetention:
    """How long dsrbot keeps its OWN copies (``retention.*``; README "What dsrbot keeps")."""

    #: Raw bytes of mail that asked for no right, counted from its arrival.
    other_mail_days: int = 30
    #: Report PDFs, exports and other attachments, counted from delivery.
    report_attachments_days: int = 30
    #: A closed case's whole file, counted from the close (Act 728/2003, 3 years).
    case_years: int = 3
    #: ``organisation.timezone``: the statistic a deleted case leaves keeps its local dates,
    #: the days the desk's report counts it by.
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class OrgInfo:
    """The controller as letters, deadlines and retention rules need it; built once."""

    name: str = "Rusttet Oy"
    register_name: str = "Asiakasrekisteri"
    #: Where people write (customer service); also our From address and Message-ID domain.
    contact_email: str = "info@rusttet.fi"
    #: Privacy notice: "10 vuotta asiakkuuden päättymisestä lukien".
    retention_years: int = 10
    #: Accounting Act (1336/1997) 2:10: vouchers (invoices) for 6 years from the year's end.
    bookkeeping_years: int = 6
    #: Dates in letters and deadlines are dates in this zone (``organisation.timezone``).
    timezone: ZoneInfo = field(default_factory=_default_zone)
    #: How long our own records (mail, letters, case files) are kept; access reports say so.
    records: RecordRetention = field(default_factory=RecordRetention)

    @property
    def domain(self) -> str:
        return mailformat.domain_of(self.contact_email)

    @property
    def tz(self) -> str:
        """The zone's IANA name, for the functions that take a name (deadlines)."""
        return self.timezone.key

    def letter_context(self) -> dict[str, str]:
        return {"name": self.name, "register_name": self.register_name,
                "contact_email": self.contact_email}


@dataclass(frozen=True)
class IdentityPolicy:
    """How identity is checked: trusted Authentication-Results ids, codes, trust files."""

    trusted_authserv_ids: Sequence[str] = ()
    #: The authserv-id our own SMTP/LMTP receiver writes (``mail.receiver.authserv_id``).
    receiver_authserv_id: str = ""
    challenge_ttl_hours: int = 72
    challenge_max_attempts: int = 5
    #: A signature verifies only when signed this many days or fewer before receipt.
    signature_max_age_days: int = 30
    #: PEM/DER files of X.509 roots trusted for S/MIME and PDF signatures.
    trusted_certificates: Sequence[Path] = ()
    #: OpenPGP certificate files trusted for signatures.
    trusted_openpgp_keys: Sequence[Path] = ()
    #: Relative trust file paths are read from here (the config file's folder).
    base_dir: Path | None = None


@dataclass(frozen=True)
class HealthPolicy:
    """The mailbox canary and the silence alarm (``[health]``), as the domain reads them."""

    org: OrgInfo = field(default_factory=OrgInfo)
    #: How often a probe goes out; None when the canary is off (or cannot round-trip).
    canary_interval: timedelta | None = None
    canary_alert: timedelta = timedelta(minutes=30)
    #: Working hours without any mail before staff are alerted; 0 = off.
    silence_hours: float = 0.0
    #: Alerts by mail go here as well as to the chat; empty = chat only.
    alert_to: str = ""
    #: Where probes are mailed (``organisation.addresses[0]``).
    probe_to: str = "info@rusttet.fi"


@dataclass(frozen=True)
class ForwardPolicy:
    """Where mail that reaches no case goes when we are the only recipient (SMTP/LMTP)."""

    #: Customer service's address; empty means forwarding is off.
    to: str = ""
    robots: bool = False
    #: Channels whose mail exists only in our database (IMAP mail stays in the mailbox).
    channels: tuple[str, ...] = ("smtp", "lmtp")


@dataclass(frozen=True)
class RightsPolicy:
    """How much proof each right asks for beyond a verified identity.

    ``require_signature``: request types that must also be signed (``rights.require_signature``,
    default none). The privacy notice asks for signed access and rectification requests, but
    the Ombudsman's sanctions board held such a demand excessive (TSV 6097/161/21), so a
    verified identity is enough unless the company insists.
    """

    require_signature: frozenset[str] = frozenset()


@dataclass(frozen=True)
class IntakePolicy:
    """Everything the inbound pipeline's stages read besides the message itself."""

    org: OrgInfo = field(default_factory=OrgInfo)
    identity: IdentityPolicy = field(default_factory=IdentityPolicy)
    #: Our own addresses (``organisation.addresses``): mail from them is never answered.
    org_addresses: tuple[str, ...] = ("info@rusttet.fi",)
    rate_limit_per_sender: int = 20
    rate_limit_window_minutes: int = 60
    #: Request types carried out without staff once identity and signature allow it.
    auto_approve: tuple[str, ...] = ("marketing_optout", "publication_ban")
    forward: ForwardPolicy = field(default_factory=ForwardPolicy)
    rights: RightsPolicy = field(default_factory=RightsPolicy)
