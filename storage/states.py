"""The states a case, a message and a chat notification can be in: plain enums, no tables.

Why apart from :mod:`storage.models`: the quick console commands (``dsrbot status``,
``cases``, ``case``; :mod:`bot.cli.quick`) read these values without building the ORM tables
(issue 20: start-up under 0.5 s). The models re-export them under their old names.
"""

from __future__ import annotations

import enum


class CaseStatus(enum.StrEnum):
    RECEIVED = "received"
    AWAITING_IDENTITY = "awaiting_identity"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DONE = "done"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    #: The final letter bounced: the requester got nothing, so staff must act (open status).
    DELIVERY_FAILED = "delivery_failed"


class InboundState(enum.StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    HELD = "held"
    #: Our own mailbox canary, recognised by its token: never a case, removed from IMAP.
    CANARY = "canary"


class OutboundState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    #: Accepted by the relay, then returned by a delivery status notification (a bounce).
    BOUNCED = "bounced"


class ChatNotificationState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"

