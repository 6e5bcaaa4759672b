"""The identity levels, the message and signature views the check reads, and its results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from handlers.lookalike import Flag
from handlers.signatures import AttachmentView

Level = Literal["none", "claimed", "authenticated", "verified"]
LEVELS: tuple[Level, ...] = ("none", "claimed", "authenticated", "verified")

#: ``dnsfunc(name: bytes, timeout=...) -> bytes | None`` as dkimpy calls it (TXT record text).
DnsTxt = Callable[..., bytes | None]


class MessageView(Protocol):
    """The fields of ``handlers.parse.ParsedMessage`` that identity checks read."""

    @property
    def from_address(self) -> str: ...
    @property
    def from_display(self) -> str: ...
    @property
    def reply_to(self) -> Sequence[str]: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def attachments(self) -> Sequence[AttachmentView]: ...


class SignatureView(Protocol):
    """What identity needs from :class:`handlers.signatures.SignatureResult`."""

    @property
    def state(self) -> str: ...
    @property
    def signer_emails(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class SenderAuth:
    """Sender authentication of the From domain, from trusted sources only."""

    dkim_aligned: bool = False
    spf_aligned: bool = False
    dmarc_pass: bool = False
    direct_dkim_aligned: bool = False
    flags: list[Flag] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    #: Our server reports a DMARC or DKIM failure (and no aligned pass): a code in such a mail
    #: never verifies.
    failed: bool = False

    @property
    def passed(self) -> bool:
        """An aligned DKIM pass (trusted header or verified here) or a DMARC pass."""
        return self.dkim_aligned or self.dmarc_pass or self.direct_dkim_aligned


@dataclass(frozen=True)
class IdentityAssessment:
    level: Level
    customer_id: int | None = None
    candidate_ids: list[int] = field(default_factory=list)
    #: Machine-readable codes (``reply_to_differs``, ``punycode_domain``, ...).
    flags: list[str] = field(default_factory=list)
    #: Human-readable, for staff; never names, addresses or message text.
    reasons: list[str] = field(default_factory=list)
    #: The From domain passed aligned DKIM/DMARC from a trusted source (with or without match).
    sender_authenticated: bool = False
    #: Our server reports that the mail failed DMARC or DKIM (see ``SenderAuth.failed``).
    sender_auth_failed: bool = False
