"""The ``[health]`` settings section (kept here, beside the code that reads it).

``bot.settings`` includes it as ``Settings.health``; it imports nothing of ours, so the
settings module can import it without a cycle.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _optional_address(value: str) -> str:
    value = value.strip().lower()
    if value and ("@" not in value or any(c.isspace() for c in value)):
        raise ValueError(f"{value!r} is not an email address")
    return value


#: An email address, or "" for off (``health.alert_to``, ``mail.receiver.forward_other_to``).
OptionalAddress = Annotated[str, AfterValidator(_optional_address)]


class HealthSettings(BaseModel):
    """Proof that the mailbox is alive, and what a monitor can read."""

    model_config = ConfigDict(extra="forbid")

    #: Mail a probe to organisation.addresses[0] this often (minutes; 0 = off). It runs only
    #: when mail can make the round trip: outgoing mail over SMTP, and IMAP or the receiver on.
    canary_interval_minutes: float = Field(default=60.0, ge=0)
    #: A probe not back after this long opens an incident (alert once, and once on recovery).
    canary_alert_minutes: float = Field(default=30.0, gt=0)
    #: Alert when no mail at all arrived for this many working hours (0 = off).
    silence_alert_hours: float = Field(default=16.0, ge=0)
    #: Where alerts go by mail besides the staff chat (empty: chat only).
    alert_to: OptionalAddress = ""
    #: /healthz and Prometheus /metrics on 127.0.0.1:PORT (0 = off).
    metrics_port: int = Field(default=0, ge=0, le=65535)
